package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// longDuration is a flag for durations counted in days or years as well as
// Go's units: "30d", "6y" (365 days each), "720h".
type longDuration time.Duration

func (d *longDuration) Set(s string) error {
	s = strings.TrimSpace(s)
	for unit, size := range map[string]time.Duration{"d": 24 * time.Hour, "y": 365 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, unit); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil || v < 0 || v > int64(100*365*24*time.Hour/size) {
				return fmt.Errorf("%q: want a whole number of days or years, such as 30d or 6y", s)
			}
			*d = longDuration(time.Duration(v) * size)
			return nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("%q: want a duration such as 720h, 30d or 6y", s)
	}
	*d = longDuration(v)
	return nil
}

// String shows whole days as days.
func (d longDuration) String() string {
	v := time.Duration(d)
	if v > 0 && v%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", v/(24*time.Hour))
	}
	return v.String()
}

package remote

import (
	"net/http"
	"testing"
)

func TestAddr(t *testing.T) {
	proxies, err := ParseProxies("10.0.0.0/8, 127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, peer string
		xff        []string
		ps         Proxies
		want       string
	}{
		{"no proxies trusted: the header is ignored", "203.0.113.9:5000", []string{"198.51.100.1"}, nil, "203.0.113.9"},
		{"untrusted peer: the header is ignored", "203.0.113.9:5000", []string{"198.51.100.1"}, proxies, "203.0.113.9"},
		{"trusted peer: the client it forwards", "127.0.0.1:5000", []string{"198.51.100.1"}, proxies, "198.51.100.1"},
		{"a client's forged left part is skipped", "10.1.2.3:5000", []string{"6.6.6.6, 198.51.100.1, 10.9.9.9"}, proxies, "198.51.100.1"},
		{"several headers read as one list", "10.1.2.3:5000", []string{"6.6.6.6", "198.51.100.1"}, proxies, "198.51.100.1"},
		{"a malformed hop stops the walk", "10.1.2.3:5000", []string{"198.51.100.1, junk"}, proxies, "10.1.2.3"},
		{"trusted peer without the header", "127.0.0.1:5000", nil, proxies, "127.0.0.1"},
		{"IPv6 peer", "[2001:db8::1]:443", nil, proxies, "2001:db8::1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.peer
			for _, h := range c.xff {
				r.Header.Add("X-Forwarded-For", h)
			}
			if got := c.ps.Addr(r); got != c.want {
				t.Errorf("Addr = %q, want %q", got, c.want)
			}
		})
	}
}

func TestParseProxiesRefusesJunk(t *testing.T) {
	for _, s := range []string{"10.0.0.0/33", "example.com", "10.0.0.1/8/2"} {
		if _, err := ParseProxies(s); err == nil {
			t.Errorf("ParseProxies(%q) accepted it", s)
		}
	}
	if ps, err := ParseProxies(" "); err != nil || len(ps) != 0 {
		t.Errorf("ParseProxies(blank) = %v, %v; want none", ps, err)
	}
}

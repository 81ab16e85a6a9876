package catalog

import (
	"encoding/json"
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// Every schema's description reads right: "an appointmentCreated event",
// "a sampleReceived event".
func TestSchemaDescriptionArticles(t *testing.T) {
	article := regexp.MustCompile(`\b(a|an) ([a-z]\w*) event\b`)
	err := fs.WalkDir(schemaFS, "schemas", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := schemaFS.ReadFile(path)
		if err != nil {
			return err
		}
		var s struct{ Description string }
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		for _, m := range article.FindAllStringSubmatch(s.Description, -1) {
			want := "a"
			if strings.ContainsRune("aeiou", rune(m[2][0])) {
				want = "an"
			}
			if m[1] != want {
				t.Errorf("%s: %q, want %q before %s", path, m[0], want, m[2])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

package labhooks_test

import (
	"testing"

	"github.com/labhooks/labhooks"
)

func TestValidateText(t *testing.T) {
	for _, ok := range []string{
		"", "Lab Utrecht", "Laboratoire Émile-Zola", "検査センター", "مختبر", "ok 👩‍🔬 (ZWJ)", "zero\u200cwidth non-joiner",
		"quotes \" ' and <tags> are the renderer's business",
	} {
		if err := labhooks.ValidateText("name", ok); err != nil {
			t.Errorf("ValidateText(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{
		"nul\x00", "bell\a", "new\nline", "carriage\rreturn", "tab\there", "del\x7f", "c1\u0085", "c1\u009b[31m",
		"\u202Egnp.exe", "lre\u202A", "rle\u202B", "pdf\u202C", "lro\u202D", "lri\u2066", "rli\u2067", "fsi\u2068", "pdi\u2069",
		"lrm\u200E", "rlm\u200F", "alm\u061C", "zwsp\u200B", "bom\uFEFF", "line\u2028sep", "para\u2029sep", "tag\U000E0041",
		"bad utf-8 \xff",
	} {
		err := labhooks.ValidateText("description", bad)
		if e, ok := err.(*labhooks.Error); !ok || e.Code != labhooks.EInvalid || e.Field != "description" {
			t.Errorf("ValidateText(%q) = %v, want invalid on description", bad, err)
		}
	}
}

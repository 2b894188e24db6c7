package xkcd_test

import (
	"encoding/json"
	"testing"

	"github.com/xkcdapp/xkcdapp/xkcd"
)

func TestRepairText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", ""},
		{"plain ASCII untouched", "Hello, world! 1 < 2", "Hello, world! 1 < 2"},
		{"named entities", "Fish &amp; Chips &mdash; caf&eacute;", "Fish & Chips — café"},
		{"markup entities become text", "&lt;b&gt;Bold&lt;/b&gt; &quot;quoted&quot;", `<b>Bold</b> "quoted"`},
		{"numeric entities", "It&#8217;s &#x263A;", "It’s ☺"},
		{"UTF-8 double-encoded as Latin-1", "NaÃ¯ve cafÃ©", "Naïve café"},
		{"double-encoded three-byte rune", "Itâ\u0080\u0099s dÃ©jÃ\u00a0 vu", "It’s déjà vu"},
		{"double-encoded behind entities", "caf&Atilde;&copy;", "café"},
		{"genuine Latin-1 left alone", "café", "café"},
		{"genuine Latin-1 sentence left alone", "Naïve café, déjà vu", "Naïve café, déjà vu"},
		{"runes above 0xFF left alone", "It’s déjà vu — 日本", "It’s déjà vu — 日本"},
		{"double-encoded next to a rune above 0xFF left alone", "cafÃ© — ok", "cafÃ© — ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := xkcd.RepairText(tt.in); got != tt.want {
				t.Errorf("RepairText(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestImageURL(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"normal png kept", "https://imgs.xkcd.com/comics/barrel_cropped_(1).jpg", "https://imgs.xkcd.com/comics/barrel_cropped_(1).jpg"},
		{"http png kept", "http://imgs.xkcd.com/comics/tree.png", "http://imgs.xkcd.com/comics/tree.png"},
		{"bare directory", "https://imgs.xkcd.com/comics/", ""},
		{"host only", "https://imgs.xkcd.com", ""},
		{"root", "https://imgs.xkcd.com/", ""},
		{"javascript scheme", "javascript:alert(1)", ""},
		{"javascript scheme in capitals", "JavaScript:alert(1)//x.png", ""},
		{"data scheme", "data:image/png;base64,iVBORw0KGgo=", ""},
		{"ftp scheme", "ftp://imgs.xkcd.com/comics/tree.png", ""},
		{"absolute path", "/comics/tree.png", ""},
		{"relative path", "comics/tree.png", ""},
		{"protocol-relative", "//imgs.xkcd.com/comics/tree.png", ""},
		{"no host", "https:///comics/tree.png", ""},
		{"empty", "", ""},
		{"unparseable", "https://imgs.xkcd.com/%zz.png", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := xkcd.ImageURL(tt.in); got != tt.want {
				t.Errorf("ImageURL(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestLinkURL(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"https kept", "https://example.com/linked-comic", "https://example.com/linked-comic"},
		{"http without path kept", "http://xkcd.com", "http://xkcd.com"},
		{"directory kept", "http://xkcd.com/1663/", "http://xkcd.com/1663/"},
		{"surrounding space trimmed", "  https://example.com/x \n", "https://example.com/x"},
		{"javascript scheme", "javascript:alert(document.cookie)", ""},
		{"javascript scheme behind space", " javascript:alert(1)", ""},
		{"javascript scheme in capitals", "JAVASCRIPT:alert(1)", ""},
		{"javascript scheme split by a tab", "java\tscript:alert(1)", ""},
		{"data scheme", "data:text/html,<script>alert(1)</script>", ""},
		{"mailto scheme", "mailto:someone@example.com", ""},
		{"relative path", "/1663/", ""},
		{"protocol-relative", "//evil.example/", ""},
		{"no host", "https:///path", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := xkcd.LinkURL(tt.in); got != tt.want {
				t.Errorf("LinkURL(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestComicInteractive(t *testing.T) {
	const png = "https://imgs.xkcd.com/comics/tree.png"
	tests := []struct {
		name  string
		comic xkcd.Comic
		want  bool
	}{
		{"image comic", xkcd.Comic{Num: 1, Img: png}, false},
		{"bare image directory", xkcd.Comic{Num: 1608, Img: "https://imgs.xkcd.com/comics/"}, true},
		{"no image", xkcd.Comic{Num: 2}, true},
		{"relative image", xkcd.Comic{Num: 3, Img: "/comics/tree.png"}, true},
		{"javascript image", xkcd.Comic{Num: 4, Img: "javascript:alert(1)"}, true},
		{"extra parts with an image", xkcd.Comic{Num: 1350, Img: png, ExtraParts: json.RawMessage(`{"inset":"<div></div>"}`)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.comic.Interactive(); got != tt.want {
				t.Errorf("Comic{Img: %q, ExtraParts: %s}.Interactive(): got %v, want %v", tt.comic.Img, tt.comic.ExtraParts, got, tt.want)
			}
		})
	}
}

// Package xkcd is the client for the xkcd JSON API (the upstream) and the
// comic type the rest of the app shares.
package xkcd

import (
	"encoding/json"
	"html"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Missing is the comic number xkcd skipped on purpose: /404/ answers 404.
const Missing = 404

// Comic is one published comic, with its text already repaired.
// Every string in it came from upstream and is untrusted: render it escaped.
type Comic struct {
	Num        int
	Title      string
	SafeTitle  string
	Alt        string
	Img        string
	Transcript string
	Link       string
	News       string
	Published  time.Time // zero when upstream gave no valid date
	ExtraParts json.RawMessage
}

// Interactive reports whether the comic has no usable image, as with the
// games and animations that only work on xkcd.com (e.g. 1608, whose img is
// the bare directory https://imgs.xkcd.com/comics/).
func (c Comic) Interactive() bool {
	return len(c.ExtraParts) > 0 || ImageURL(c.Img) == ""
}

// ImageURL returns img when it is an http(s) URL naming a file, and "" for
// anything else: a bare directory, a relative path, another scheme.
func ImageURL(img string) string {
	u, err := url.Parse(img)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	if u.Path == "" || strings.HasSuffix(u.Path, "/") {
		return ""
	}
	return u.String()
}

// LinkURL returns the comic's link when it is an absolute http(s) URL, and ""
// otherwise, so that a hostile upstream cannot smuggle a javascript: URL in.
func LinkURL(link string) string {
	u, err := url.Parse(strings.TrimSpace(link))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return u.String()
}

// RepairText undoes the two ways upstream text arrives damaged: HTML
// entities ("&eacute;") and UTF-8 that was decoded as Latin-1 on the way in
// ("Ã©" for "é", as in comic 971). It runs once, before a comic is stored.
// NUL characters are dropped: Postgres text cannot hold them.
func RepairText(s string) string {
	return fixDoubleEncoding(strings.ReplaceAll(html.UnescapeString(s), "\x00", ""))
}

// fixDoubleEncoding reinterprets s as Latin-1 bytes when every rune fits in a
// byte and those bytes are valid UTF-8 with at least one multi-byte sequence.
// Genuine Latin-1 text ("café") fails that test and is left alone.
func fixDoubleEncoding(s string) string {
	b := make([]byte, 0, len(s))
	high := false
	for _, r := range s {
		if r > 0xFF {
			return s
		}
		if r >= 0x80 {
			high = true
		}
		b = append(b, byte(r))
	}
	if !high || !utf8.Valid(b) {
		return s
	}
	return string(b)
}

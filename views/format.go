package views

import (
	"strconv"
	"time"
)

// count writes n with thousands separators: 12345 -> "12,345".
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	if neg {
		out = append(out, '-')
	}
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// plural picks the word for n things.
func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// day formats a publication date the way people write it.
func day(t time.Time) string { return t.Format("2 January 2006") }

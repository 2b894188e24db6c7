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

// percent is part of whole, rounded down to a tenth of a percent so that
// "100%" is only said when it is true.
func percent(part, whole int) string {
	tenths := int64(part) * 1000 / int64(whole)
	return strconv.FormatInt(tenths/10, 10) + "." + strconv.FormatInt(tenths%10, 10) + "%"
}

// ago says how long before now t was, the way people say it.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return unitsAgo(int64(d/time.Minute), "minute")
	case d < 24*time.Hour:
		return unitsAgo(int64(d/time.Hour), "hour")
	case d < 30*24*time.Hour:
		return unitsAgo(int64(d/(24*time.Hour)), "day")
	default:
		return day(t)
	}
}

func unitsAgo(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit + " ago"
	}
	return strconv.FormatInt(n, 10) + " " + unit + "s ago"
}

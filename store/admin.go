package store

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Actions recorded in the audit log.
const (
	ActionSetViews = "set views"
	ActionSignIn   = "sign in"
	ActionSignOut  = "sign out"
	ActionSync     = "sync"
)

// AuditEntry is one thing an operator did.
type AuditEntry struct {
	ID     int64
	At     time.Time
	Actor  string
	Action string
	// Comic, OldViews and NewViews are set for ActionSetViews.
	Comic    int
	OldViews int64
	NewViews int64
	Detail   string
}

// Sorts of CountQuery.
const (
	SortViews = "views" // most viewed first, ties by number
	SortNum   = "num"   // by number
)

// MaxPage bounds how many rows a page of counts or audit entries holds.
const MaxPage = 100

// CountQuery asks for a page of view counts.
type CountQuery struct {
	// Search matches a comic's number ("42" or "#42") or, ignoring case, a
	// part of its title; empty matches every comic.
	Search string
	Sort   string // SortViews or SortNum
	Limit  int    // at most MaxPage
	Offset int
}

// ComicCount is a comic with its count: every cached comic, and every
// viewed one, cached or not.
type ComicCount struct {
	Num   int
	Title string // "" when the comic is not cached
	Views int64
}

// CountPage is one page of counts and how many matched in all.
type CountPage struct {
	Rows  []ComicCount
	Total int
}

// searchNum is the comic number search names, 0 for none. A number past
// what the num columns (integer) hold names no comic: Postgres would
// refuse the query rather than match nothing.
func searchNum(search string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(search), "#"))
	if err != nil || n < 1 || n > math.MaxInt32 {
		return 0
	}
	return n
}

// unmatchable reports whether search is text no title can hold: not
// UTF-8, or with a NUL, which Postgres refuses outright.
func unmatchable(search string) bool {
	return !utf8.ValidString(search) || strings.ContainsRune(search, 0)
}

// limitOf bounds a page's size.
func limitOf(limit int) int { return min(max(limit, 0), MaxPage) }

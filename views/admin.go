package views

import (
	"net/url"
	"strconv"

	"github.com/xkcdapp/xkcdapp/store"
)

func adminComicPath(num int) string { return "/admin/views/" + strconv.Itoa(num) }

// countsQuery is the query that keeps v's search and sort across pages.
func countsQuery(v CountsView) string {
	q := url.Values{}
	if v.Search != "" {
		q.Set("q", v.Search)
	}
	if v.Sort != store.SortViews {
		q.Set("sort", v.Sort)
	}
	return q.Encode()
}

// pageURL is path with query and page.
func pageURL(path, query string, page int) string {
	if query != "" {
		query += "&"
	}
	return path + "?" + query + "page=" + strconv.Itoa(page)
}

// auditAction says an audited action in words.
func auditAction(action string) string {
	switch action {
	case store.ActionSignIn:
		return "Signed in"
	case store.ActionSignOut:
		return "Signed out"
	case store.ActionSync:
		return "Asked for a catalog sync"
	default:
		return action
	}
}

// countsSummary says how many comics v found, and which page this is.
func countsSummary(v CountsView) string {
	s := count(int64(v.Total)) + " " + plural(int64(v.Total), "comic", "comics")
	if v.Search != "" {
		s += " matching “" + v.Search + "”"
	}
	return s + pageOf(v.Page, v.Pages)
}

// pageOf is ", page 2 of 3", or nothing for a single page.
func pageOf(page, pages int) string {
	if pages <= 1 {
		return ""
	}
	return ", page " + strconv.Itoa(page) + " of " + strconv.Itoa(pages)
}

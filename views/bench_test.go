package views

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/xkcdapp/xkcdapp/xkcd"
)

func benchComic() ComicView {
	return ComicView{
		Comic: &xkcd.Comic{
			Num: 1234, Title: "Douglas Engelbart (1925-2013)", SafeTitle: "Douglas Engelbart (1925-2013)",
			Alt:        "Actually, the 1968 demo was so ahead of its time that <b>this</b> & that still apply.",
			Img:        "https://imgs.xkcd.com/comics/douglas_engelbart_1925_2013.png",
			Transcript: "[[A man stands at a podium.]]\nMan: The mouse!",
			Published:  time.Date(2013, 7, 3, 0, 0, 0, 0, time.UTC),
		},
		Views:  123456,
		Latest: 3000,
	}
}

func BenchmarkRenderComicPage(b *testing.B) {
	v := benchComic()
	b.ReportAllocs()
	for b.Loop() {
		if err := ComicPage(v).Render(context.Background(), io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderComicFragment(b *testing.B) {
	v := benchComic()
	b.ReportAllocs()
	for b.Loop() {
		if err := ComicFragment(v).Render(context.Background(), io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderLeaderboard(b *testing.B) {
	v := LeaderboardView{Limit: 100}
	for i := range 100 {
		v.Rows = append(v.Rows, Ranked{Rank: i + 1, Num: 100 + i, Title: "A comic title", Views: int64(10000 - i)})
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := LeaderboardPage(v).Render(context.Background(), io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

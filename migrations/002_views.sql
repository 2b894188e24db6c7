-- View counts, one row per comic that has been seen. No foreign key to
-- comics: a view is kept even when the comic could not be cached yet.
CREATE TABLE comic_views (
    num        integer PRIMARY KEY CHECK (num > 0),
    view_count bigint NOT NULL CHECK (view_count >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The leaderboard reads the top rows in this order.
CREATE INDEX comic_views_leaderboard ON comic_views (view_count DESC, num);

---- create above / drop below ----

DROP TABLE comic_views;

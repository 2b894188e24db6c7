-- View counts, one row per comic that has been seen. No foreign key to
-- comics: a view is kept even when the comic could not be cached yet.
--
-- No index on view_count: every view updates it, and an indexed column
-- would turn each update into new index entries. With no index on it and
-- room left in each page (fillfactor), updates are HOT: the row is rewritten
-- in place. The leaderboard's top-N sort over a few thousand rows is cheap.
CREATE TABLE comic_views (
    num        integer PRIMARY KEY CHECK (num > 0),
    view_count bigint NOT NULL CHECK (view_count >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 50);

---- create above / drop below ----

DROP TABLE comic_views;

-- Views per minute, for the live sparkline: every view batch adds its views
-- to the row of the minute it commits in, in the same transaction as the
-- counts, so that every instance draws the same line. A minute is a few
-- bytes and there are 1,440 a day, so rows are kept.
CREATE TABLE view_minutes (
    minute timestamptz PRIMARY KEY,
    views  bigint NOT NULL CHECK (views >= 0)
);

-- People watching live stats: each instance keeps one row with its count
-- of open streams and refreshes it; a row not refreshed before it expires
-- belongs to an instance that is gone, and is not counted. The rows say
-- nothing that must survive a crash, so the table is not logged.
CREATE UNLOGGED TABLE live_watchers (
    instance   text PRIMARY KEY,
    watchers   integer NOT NULL CHECK (watchers >= 0),
    expires_at timestamptz NOT NULL
);

---- create above / drop below ----

DROP TABLE live_watchers;
DROP TABLE view_minutes;

-- The comic cache: every upstream field, text already repaired.
CREATE TABLE comics (
    num         integer PRIMARY KEY CHECK (num > 0),
    title       text NOT NULL,
    safe_title  text NOT NULL,
    alt         text NOT NULL,
    img         text NOT NULL,
    transcript  text NOT NULL DEFAULT '',
    link        text NOT NULL DEFAULT '',
    news        text NOT NULL DEFAULT '',
    published   date,
    extra_parts jsonb,
    fetched_at  timestamptz NOT NULL DEFAULT now()
);

---- create above / drop below ----

DROP TABLE comics;

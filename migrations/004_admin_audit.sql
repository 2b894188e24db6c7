-- What operators did in the admin console. A count change and its row are
-- written in one transaction: there is no change without its record.
CREATE TABLE admin_audit (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text NOT NULL,
    action    text NOT NULL,
    comic     integer,      -- set for count changes
    old_views bigint,       -- the count before the change
    new_views bigint,       -- the count the operator set
    detail    text NOT NULL DEFAULT ''
);

---- create above / drop below ----

DROP TABLE admin_audit;

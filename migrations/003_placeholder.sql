-- Holds number 3 for the migration that the live-stats change brings;
-- that file replaces this one.
SELECT 1;

-- Example values: NULL and empty values, long values, e-mails, URLs, many distinct values, repeats.
CREATE TABLE item (
  id INTEGER PRIMARY KEY,
  label TEXT,
  long_text TEXT,
  mixed TEXT,
  only_null TEXT,
  only_empty TEXT,
  email TEXT,
  url TEXT,
  spaced TEXT,
  multiline TEXT,
  amount REAL,
  day DATE,
  unicode TEXT
);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120)
INSERT INTO item
SELECT i,
       'label ' || (i % 7),
       'a long value that is certainly longer than thirty characters, number ' || i,
       CASE i % 4 WHEN 0 THEN 'short' WHEN 1 THEN 'a value just past thirty chars!!' WHEN 2 THEN '' ELSE NULL END,
       NULL,
       '',
       CASE WHEN i > 2 THEN 'user' || i || '@example.com' END,
       CASE WHEN i > 1 THEN 'https://example.org/' || i ELSE 'plain' END,
       '  ' || i || '  ',
       'line one' || char(10) || 'line ' || i,
       i * 1.25,
       date('2020-01-01', '+' || i || ' days'),
       'café ' || (i % 3)
FROM n;
CREATE TABLE empty_table (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE tag (name TEXT, item_id INTEGER REFERENCES item(id));
INSERT INTO tag VALUES ('', 1), ('', 2), ('red', 1), ('exactly thirty characters long', 2), ('thirty-one characters long text', 3);

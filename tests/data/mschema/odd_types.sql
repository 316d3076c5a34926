-- Declared types SQLAlchemy normalises, tables created in non-alphabetical order.
CREATE TABLE zeta (
  id INT PRIMARY KEY,
  plain,
  big UNSIGNED BIG INT,
  lng LONG,
  name VARCHAR(20),
  price DECIMAL(10,2),
  raw BLOB,
  born DATE,
  seen DATETIME,
  stamp TIMESTAMP,
  flag BOOLEAN,
  ratio REAL,
  dbl DOUBLE,
  nv NVARCHAR(100),
  fixed CHARACTER(20),
  f FLOAT,
  body text,
  num NUMERIC,
  c CLOB,
  vc VARYING CHARACTER(255),
  i8 INT8,
  odd "MY TYPE"
);
INSERT INTO zeta VALUES (1, 'x', 18446744073, 5, 'Ann', 10.5, X'00FF', '2020-01-31', '2020-01-31 10:00:00', '2021-05-05 00:00:00', 1, 0.25, 1e20, 'nv', 'fx', 1.0, 'b', 3, 'c', 'v', 8, 'o');
INSERT INTO zeta VALUES (2, 7, NULL, 6.5, 'Bob', 3, X'01', '2019-12-01', NULL, NULL, 0, -1.5, 2.5, NULL, '', 2.0, '', NULL, NULL, NULL, NULL, NULL);
INSERT INTO zeta VALUES (3, NULL, 1, 'seven', '', 0.1, NULL, '2018-07-04', '2018-07-04 08:30:00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE Alpha (code TEXT PRIMARY KEY, zeta_id INTEGER REFERENCES zeta(id), note TEXT);
INSERT INTO Alpha VALUES ('A1', 1, 'first'), ('B2', 2, 'second'), ('C3', 1, NULL);
CREATE TABLE mid (k INTEGER, v TEXT);
CREATE TABLE "Beta" (x INTEGER);
INSERT INTO Beta VALUES (1), (1), (2);

-- Composite primary and foreign keys, keys without column lists, case-differing references, quoted names.
CREATE TABLE "order line" (
  "order id" INTEGER,
  "line no" INTEGER,
  "select" TEXT,
  "group" INTEGER,
  "it's" TEXT,
  "a""b" TEXT,
  "tick`name" TEXT,
  PRIMARY KEY ("order id", "line no")
);
INSERT INTO "order line" VALUES (1, 1, 'pick', 3, 'yes', 'q', 't'), (1, 2, 'drop', 4, 'no', 'r', 'u'), (2, 1, 'pick', 3, NULL, 's', NULL);
CREATE TABLE shipment (
  id INTEGER PRIMARY KEY,
  oid INTEGER,
  lno INTEGER,
  carrier INTEGER REFERENCES Carrier,
  FOREIGN KEY (oid, lno) REFERENCES "order line" ("order id", "line no")
);
INSERT INTO shipment VALUES (10, 1, 1, 1), (11, 1, 2, 2), (12, 2, 1, NULL);
CREATE TABLE carrier (cid INTEGER PRIMARY KEY, "full name" TEXT, country TEXT REFERENCES COUNTRY (Code));
INSERT INTO carrier VALUES (1, 'Fast Freight', 'DE'), (2, 'Slow Boat', 'FR');
CREATE TABLE country (code TEXT, name TEXT, PRIMARY KEY (code));
INSERT INTO country VALUES ('DE', 'Germany'), ('FR', 'France');
CREATE TABLE audit (id INTEGER PRIMARY KEY, ref INTEGER REFERENCES missing_table(id), at DATETIME);
INSERT INTO audit VALUES (1, 5, '2024-01-01 00:00:00');
CREATE TABLE pair (a INTEGER, b INTEGER, c TEXT, PRIMARY KEY (b, a)) WITHOUT ROWID;
INSERT INTO pair VALUES (2, 1, 'z'), (1, 1, 'y'), (1, 2, 'x');

CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, city TEXT, joined DATE);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), total REAL, status TEXT);
CREATE TABLE audit_log (id INTEGER PRIMARY KEY, action TEXT, at TEXT);
INSERT INTO customers VALUES (1, 'Ada', 'Paris', '2020-01-05'), (2, 'Bob', 'Rome', '2021-03-10'), (3, 'Cy', 'Paris', '2022-07-01');
INSERT INTO orders VALUES (1, 1, 10.5, 'paid'), (2, 1, 99.0, 'open'), (3, 2, 5.25, 'paid'), (4, 3, 42.0, 'paid');
INSERT INTO audit_log VALUES (1, 'login', '2023-01-01'), (2, 'logout', '2023-01-02');

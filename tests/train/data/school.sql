CREATE TABLE students (sid INTEGER PRIMARY KEY, full_name TEXT, grade INTEGER, club_id INTEGER REFERENCES clubs(cid));
CREATE TABLE clubs (cid INTEGER PRIMARY KEY, title TEXT, room TEXT);
CREATE TABLE teachers (tid INTEGER PRIMARY KEY, surname TEXT, subject TEXT);
INSERT INTO clubs VALUES (1, 'Chess', 'A1'), (2, 'Drama', 'B2');
INSERT INTO students VALUES (1, 'Mia Lee', 9, 1), (2, 'Tom Ray', 10, 2), (3, 'Ann Cho', 9, 1);
INSERT INTO teachers VALUES (1, 'Smith', 'Math'), (2, 'Jones', 'Art');

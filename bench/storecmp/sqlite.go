package main

import (
	"database/sql"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite"
)

type sqliteEngine struct {
	db *sql.DB
	g  *groupCommitter
}

func openSQLite(dir string) (engine, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	dsn := "file:" + filepath.Join(dir, "data.db") +
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// One connection: SQLite has one writer, and the group committer is it.
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL)`); err != nil {
		db.Close()
		return nil, err
	}
	e := &sqliteEngine{db: db}
	e.g = newGroupCommitter(e.load)
	return e, nil
}

func (e *sqliteEngine) put(key, value []byte) error { return e.g.put(key, value) }

func (e *sqliteEngine) load(keys, values [][]byte) error {
	tx, err := e.db.Begin()
	if err != nil {
		return err
	}
	stmt, err := tx.Prepare(`INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)`)
	if err != nil {
		tx.Rollback()
		return err
	}
	for i, k := range keys {
		if _, err := stmt.Exec(k, values[i]); err != nil {
			stmt.Close()
			tx.Rollback()
			return err
		}
	}
	stmt.Close()
	return tx.Commit()
}

func (e *sqliteEngine) scan(fn func(key, value []byte)) error {
	rows, err := e.db.Query(`SELECT k, v FROM kv ORDER BY k`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var k, v sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		fn(k, v)
	}
	return rows.Err()
}

func (e *sqliteEngine) settle() error {
	_, err := e.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

func (e *sqliteEngine) close() error {
	e.g.close()
	return e.db.Close()
}

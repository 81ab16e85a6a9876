package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// checkDBPath checks, before anything is created, that a SQLite database
// can live at path: a file, or none yet, in a folder that exists and that
// this user may write to (SQLite keeps its -wal and -shm files, and
// labhooks its .lock, beside the database). Each error names the path and
// what is wrong with it.
func checkDBPath(flagName, path string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s %s: %s", flagName, path, fmt.Sprintf(format, args...))
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return bad("is a folder; give the database file's path, such as %s", filepath.Join(path, "labhooks.db"))
	case err == nil && !st.Mode().IsRegular():
		return bad("is not a regular file")
	case err == nil:
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				return bad("the file is read-only for this user; labhooks writes to its database")
			}
			return bad("cannot be opened for writing: %v", unwrapPathError(err))
		}
		f.Close()
	case errors.Is(err, fs.ErrNotExist):
		dst, derr := os.Stat(dir)
		switch {
		case errors.Is(derr, fs.ErrNotExist):
			return bad("the folder %s does not exist; create it first (mkdir -p %s)", dir, dir)
		case derr != nil:
			return bad("cannot read the folder %s: %v", dir, unwrapPathError(derr))
		case !dst.IsDir():
			return bad("%s is not a folder", dir)
		}
	case errors.Is(err, syscall.ENOTDIR):
		return bad("a part of the path is a file, not a folder")
	default:
		return bad("%v", unwrapPathError(err))
	}
	if err := syscall.Access(dir, 2 /* W_OK */); err != nil {
		return bad("the folder %s is not writable for this user (%v); SQLite keeps its -wal and -shm files beside the database", dir, err)
	}
	return nil
}

// unwrapPathError drops the path from an *fs.PathError, which the caller's
// message already names.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

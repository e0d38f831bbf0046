package state

import (
	"github.com/cockroachdb/pebble/v2/vfs"
)

// writeBuffer is how much a file pebble creates buffers before it writes.
const writeBuffer = 256 << 10

// bufferedFS is a pebble file system whose created files (sstables, the
// manifest) buffer their writes: pebble writes a table through a 4 KiB
// bufio.Writer, a write system call per data block, which cost a fortieth
// of the stage's CPU in compactions and flushes; through this buffer it is
// one per writeBuffer. Every other operation flushes the buffer first, so
// the file reads, syncs and measures as if unbuffered; pebble syncs a
// table before it uses it.
type bufferedFS struct{ vfs.FS }

// Create creates a file whose writes are buffered.
func (fs bufferedFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	if err != nil {
		return nil, err
	}
	return &bufferedFile{File: f}, nil
}

// bufferedFile buffers the sequential writes (Write) of a vfs.File.
type bufferedFile struct {
	vfs.File
	buf []byte
}

func (f *bufferedFile) Write(p []byte) (int, error) {
	if len(f.buf)+len(p) > writeBuffer {
		if err := f.flush(); err != nil {
			return 0, err
		}
		if len(p) >= writeBuffer {
			return f.File.Write(p)
		}
	}
	if f.buf == nil {
		f.buf = make([]byte, 0, writeBuffer)
	}
	f.buf = append(f.buf, p...)
	return len(p), nil
}

// flush writes what is buffered.
func (f *bufferedFile) flush() error {
	if len(f.buf) == 0 {
		return nil
	}
	_, err := f.File.Write(f.buf)
	f.buf = f.buf[:0]
	return err
}

func (f *bufferedFile) Close() error {
	err := f.flush()
	f.buf = nil
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	return err
}

func (f *bufferedFile) Read(p []byte) (int, error) {
	if err := f.flush(); err != nil {
		return 0, err
	}
	return f.File.Read(p)
}

func (f *bufferedFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.flush(); err != nil {
		return 0, err
	}
	return f.File.ReadAt(p, off)
}

func (f *bufferedFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.flush(); err != nil {
		return 0, err
	}
	return f.File.WriteAt(p, off)
}

func (f *bufferedFile) Stat() (vfs.FileInfo, error) {
	if err := f.flush(); err != nil {
		return nil, err
	}
	return f.File.Stat()
}

func (f *bufferedFile) Sync() error {
	if err := f.flush(); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *bufferedFile) SyncData() error {
	if err := f.flush(); err != nil {
		return err
	}
	return f.File.SyncData()
}

func (f *bufferedFile) SyncTo(length int64) (bool, error) {
	if err := f.flush(); err != nil {
		return false, err
	}
	return f.File.SyncTo(length)
}

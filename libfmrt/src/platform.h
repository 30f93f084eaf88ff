// The operating-system contract of libfmrt: every open, flock, fallocate,
// mmap, msync and fsync the library makes goes through this file, and each
// returns a status code with the detail already recorded (error.h).
//
// Fault injection: tests can make the n-th injectable call fail
// (set_fault_countdown), to prove every failure path leaves a usable file.
#ifndef FMRT_PLATFORM_H
#define FMRT_PLATFORM_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace fmrt::os {

// Makes the n-th injectable OS call from now fail (n >= 1) with an I/O
// error (ENOSPC for space reservation); n <= 0 switches injection off.
void set_fault_countdown(long n);
// How many injectable calls were made since the last set_fault_countdown.
long fault_calls();

// Opens an existing file.  FMRT_ENOTFOUND when missing, FMRT_EINVAL for a
// directory or other non-regular file.
int open_existing(int *out_fd, const std::string &path, bool writable);

// Creates an anonymous file in `dir` (O_TMPFILE; where the filesystem lacks
// it, a uniquely named file whose name is returned in *out_tmp_path).
int create_temp(int *out_fd, std::string *out_tmp_path, const std::string &dir);

// Gives the temporary file `fd` the name `path`, failing with FMRT_EEXISTS if
// the name is taken (never replaces a file).  Removes *tmp_path's name.
int link_into_place(int fd, const std::string &tmp_path, const std::string &path);

// Creates `path` exclusively and unlinks it at once (scratch files).
int create_unlinked(int *out_fd, const std::string &path);

// Removes a name (errors ignored: used only for our own temporaries).
void remove_file(const std::string &path);

bool is_directory(const std::string &path);
std::string parent_directory(const std::string &path);

// flock on the open file: exclusive for writers, shared for readers;
// never blocks (FMRT_EBUSY when held elsewhere).
int lock_file(int fd, bool exclusive);

int file_size(int fd, uint64_t *out);
// Writes all of buf at `off` (pwrite; one system call for a short buffer,
// so a killed process never leaves it half written).
int write_at(int fd, const void *buf, size_t len, uint64_t off);
int read_at(int fd, void *buf, size_t len, uint64_t off);

// Reserves disk blocks for [off, off+len) so later stores through the
// mapping cannot raise SIGBUS.  Full disk or file-size limit: FMRT_ENOMEM.
int reserve_space(int fd, uint64_t off, uint64_t len);

int sync_file(int fd);
int sync_directory(const std::string &dir);

// Maps `len` bytes of the file from offset 0 at an address that is a
// multiple of `align` (a power of two), so file offsets aligned to it are
// addresses aligned to it.  len may exceed the file size: the address
// range stays reserved for growth.
int map_file(void **out, int fd, uint64_t len, bool writable, uint64_t align = 4096);
// True when, since the last clear_address_space_short() on this thread,
// map_file or map_anonymous failed because the kernel would not give that
// much address space (ENOMEM, or EINVAL for a length it refuses: ulimit -v,
// valgrind).  Injected faults never set it.
bool address_space_short();
void clear_address_space_short();
// Reserves `len` bytes of zero-filled anonymous memory, paid for only when
// touched.
int map_anonymous(void **out, uint64_t len);
void unmap(void *addr, uint64_t len);
// Faults in [addr, addr+len) for writing in one call (no-op where the
// kernel lacks MADV_POPULATE_WRITE); saves a trap per page on fresh memory.
void prefault(void *addr, uint64_t len);
// Writes dirty pages of [addr, addr+len) to the file and waits.
int flush_mapping(void *addr, uint64_t len);

void close_file(int fd);

void random_bytes(void *buf, size_t len);
uint64_t now_unix_ns();

}  // namespace fmrt::os

#endif  // FMRT_PLATFORM_H

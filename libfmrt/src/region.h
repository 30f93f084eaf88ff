// One heap file, mapped: creation (formatted in a temporary file, then linked
// into place), validation of an existing file, the address-space
// reservation, growth of the file under a live mapping, the superblock, and
// offset <-> pointer translation.
//
// The whole reservation is one shared mapping of the file made at open; the
// file grows underneath it (disk blocks reserved first), so every address
// handed out stays valid for the life of the mapping.
#ifndef FMRT_REGION_H
#define FMRT_REGION_H

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "format.h"

namespace fmrt {

struct RegionParams {
    std::string path;       // file, or directory for scratch; empty: $TMPDIR
    bool scratch = false;
    bool create = true;
    bool readonly = false;
    uint64_t initial_size = 0;  // 0: default
    uint64_t max_size = 0;      // 0: stored value or default
    // Verify and repair: accept a truncated file and map only what exists.
    bool tolerant = false;
    // Reserve at most this much address space (0: no cap), whatever max_size
    // says; the heap then grows only that far while this handle is open.
    uint64_t reserve_cap = 0;
};

constexpr uint64_t kDefaultInitialSize = uint64_t{1} << 20;
constexpr uint64_t kDefaultMaxSize = uint64_t{256} << 30;
// The mapping starts on this boundary, so offsets aligned up to it are
// addresses aligned up to it (fmrt_aligned_alloc's limit).
constexpr uint64_t kMaxAlignment = uint64_t{1} << 30;

class Region {
public:
    static int open(std::unique_ptr<Region> *out, const RegionParams &params);
    ~Region();
    Region(const Region &) = delete;
    Region &operator=(const Region &) = delete;

    uint8_t *base() const { return base_; }
    uint64_t heap_start() const { return kHeapStart; }
    uint64_t heap_end() const { return heap_end_.load(std::memory_order_acquire); }
    uint64_t file_size() const { return file_size_.load(std::memory_order_acquire); }
    uint64_t reserved() const { return reserved_; }
    // The file never grows past this (page multiple, <= reserved()).
    uint64_t max_size() const { return max_size_; }
    bool writable() const { return !readonly_; }
    bool scratch() const { return scratch_; }
    bool opened_dirty() const { return opened_dirty_; }
    // Tolerant opens only: both superblock copies failed their checks and
    // one with an intact identity was taken (repair rewrites both).
    bool salvaged() const { return salvaged_; }
    int fd() const { return fd_; }
    // The address space the calling thread's last open tried to reserve.
    static uint64_t last_reservation();
    // The superblock copy (0 or 1) that failed its check at open while the
    // other one was used, or -1; what was wrong with it.
    int damaged_copy() const {
        std::lock_guard<std::mutex> lock(sb_mu_);
        return sb_damaged_;
    }
    const std::string &damaged_copy_reason() const { return sb_damage_; }
    // Writes the superblock to both copies (repair of a damaged copy).
    int rewrite_both_superblocks();
    const std::string &path() const { return path_; }
    // The superblock in force.  superblock() is for a region no other
    // thread uses yet (open, verify_path, repair); a shared one takes a copy.
    const Superblock &superblock() const { return sb_; }
    Superblock superblock_snapshot() const {
        std::lock_guard<std::mutex> lock(sb_mu_);
        return sb_;
    }

    void *ptr(uint64_t off) const { return base_ + off; }
    uint64_t offset(const void *p) const {
        return static_cast<uint64_t>(static_cast<const uint8_t *>(p) - base_);
    }
    // True when p lies in the reservation past the superblocks (the heap and
    // the room it may grow into).
    bool in_reservation(const void *p) const {
        auto a = reinterpret_cast<uintptr_t>(p), b = reinterpret_cast<uintptr_t>(base_);
        return a >= b + kHeapStart && a < b + reserved_;
    }

    // Makes the file at least `size` bytes (disk blocks reserved), for a
    // heap end to come.  FMRT_ENOMEM past the reservation or on a full disk.
    int grow_file(uint64_t size);
    // Records a new catalog table in the superblock (the commit point of a
    // table growth).
    int set_catalog_root(uint64_t off);
    // Repair of a salvaged superblock whose catalog root is not a table:
    // the next superblock write records no catalog (it is rebuilt).
    void forget_catalog_root() { sb_.catalog_root = 0; }
    // Writes `word` at file offset `off` (repair's structural fixes).
    void store_word(uint64_t off, uint64_t word) {
        __atomic_store_n(static_cast<uint64_t *>(ptr(off)), word, __ATOMIC_RELEASE);
    }
    // Records a new heap end in the superblock (the spans up to it must
    // already be written).
    int set_heap_end(uint64_t end);
    // Marks the file as open read-write (not cleanly closed) once the heap
    // has been checked; a no-op for read-only opens.
    int mark_open();
    // Reserves disk blocks for the whole heap (fills holes a sparse copy
    // left); only after the file was validated, so a refused file is untouched.
    int reserve_heap();
    // Flushes the mapping and the file to disk.
    int sync();
    // Marks the file cleanly closed and syncs it (read-write only).
    int close_clean();

private:
    Region() = default;
    int create_new(const RegionParams &p);
    int open_existing_file(const RegionParams &p);
    int load_superblock();
    int map(uint64_t max_size);
    int format(uint64_t initial_size, uint64_t max_size);
    int write_superblock(uint64_t flags);
    int write_superblock_locked(uint64_t flags);
    int write_superblock_to(int slot, uint64_t flags);  // sb_mu_ held

    std::string path_;
    int fd_ = -1;
    bool readonly_ = false;
    bool scratch_ = false;
    bool opened_dirty_ = false;
    bool tolerant_ = false;
    bool salvaged_ = false;  // no valid superblock copy; rebuilt from a torn one
    uint8_t *base_ = nullptr;
    uint64_t reserved_ = 0;
    uint64_t max_size_ = 0;
    uint64_t reserve_cap_ = 0;  // RegionParams::reserve_cap
    // Written under the page allocator's lock, read anywhere.
    std::atomic<uint64_t> file_size_{0};
    std::atomic<uint64_t> heap_end_{0};
    Superblock sb_{};
    mutable std::mutex sb_mu_;  // serialises superblock writes (and guards sb_ for readers)
    // Superblock copies (under sb_mu_).  Every write between two syncs goes
    // to copy sb_active_, so the other one keeps the state of the last sync
    // that a power cut cannot tear; a sync after which that copy was written
    // makes it the kept one and the other one active.
    int sb_active_ = 1;
    bool sb_active_written_ = false;
    uint64_t sb_writes_ = 0;
    // A copy that failed its check when the file was opened (-1: none) and why.
    int sb_damaged_ = -1;
    std::string sb_damage_;
    // Whether this process has fsynced the file before its first superblock
    // write: the copy it then overwrites may be the only one on disk.
    bool sb_flushed_ = false;
};

}  // namespace fmrt

#endif  // FMRT_REGION_H

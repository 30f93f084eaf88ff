// Region: the mapped file (region.h).
#include "region.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "error.h"
#include "platform.h"

namespace fmrt {
namespace {

uint64_t round_up(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

}  // namespace

Region::~Region() {
    os::unmap(base_, reserved_);
    os::close_file(fd_);
}

int Region::open(std::unique_ptr<Region> *out, const RegionParams &p) {
    std::unique_ptr<Region> r(new Region());
    r->readonly_ = p.readonly;
    r->scratch_ = p.scratch;
    r->reserve_cap_ = p.reserve_cap;
    int rc = p.scratch ? r->create_new(p) : r->open_existing_file(p);
    if (rc == FMRT_ENOTFOUND && !p.scratch && p.create) {
        rc = r->create_new(p);
        // Somebody else created it between our two attempts: use theirs.
        if (rc == FMRT_EEXISTS) rc = r->open_existing_file(p);
    }
    if (rc != FMRT_OK) return rc;
    *out = std::move(r);
    return FMRT_OK;
}

int Region::open_existing_file(const RegionParams &p) {
    path_ = p.path;
    os::close_file(fd_);
    fd_ = -1;
    int rc = os::open_existing(&fd_, p.path, !p.readonly);
    if (rc != FMRT_OK) return rc;
    if ((rc = os::lock_file(fd_, !p.readonly)) != FMRT_OK) return rc;
    tolerant_ = p.tolerant;
    if ((rc = load_superblock()) != FMRT_OK) return rc;
    if (p.tolerant) {
        // Verify and repair never grow the file: map what exists.
        heap_end_ = std::min<uint64_t>(heap_end(), file_size());
        max_size_ = reserved_ = round_up(std::max(file_size(), kHeapStart), kPageSize);
        void *m = nullptr;
        if ((rc = os::map_file(&m, fd_, reserved_, !readonly_)) != FMRT_OK) return rc;
        base_ = static_cast<uint8_t *>(m);
        return FMRT_OK;
    }
    uint64_t max = p.max_size ? p.max_size : sb_.max_size;
    if ((rc = map(max)) != FMRT_OK) return rc;
    opened_dirty_ = (sb_.flags & kSbDirty) != 0;
    return FMRT_OK;
}

int Region::load_superblock() {
    uint64_t size = 0;
    int rc = os::file_size(fd_, &size);
    if (rc != FMRT_OK) return rc;
    file_size_ = size;
    if (size == 0) return fail(FMRT_EFORMAT, "%s: empty file, not a libfmrt heap", path_.c_str());
    if (size < kHeapStart) {
        return fail(FMRT_EFORMAT, "%s: file too small for a libfmrt heap (%llu bytes)",
                    path_.c_str(), static_cast<unsigned long long>(size));
    }
    Superblock copies[2];
    int verdict[2];
    for (int i = 0; i < 2; ++i) {
        if ((rc = os::read_at(fd_, &copies[i], sizeof copies[i], i * kSuperblockSlotBytes)) != FMRT_OK) {
            return rc;
        }
        verdict[i] = check_superblock(copies[i]);
    }
    int best = -1;
    for (int i = 0; i < 2; ++i) {
        if (verdict[i] == FMRT_OK && (best < 0 || copies[i].generation > copies[best].generation)) best = i;
    }
    if (best >= 0 && verdict[1 - best] != FMRT_OK) {
        check_superblock(copies[1 - best]);
        sb_damaged_ = 1 - best;
        sb_damage_ = error_message();
    }
    // Writes go to the other copy until the next sync.
    if (best >= 0) sb_active_ = 1 - best;
    if (best < 0 && tolerant_) {
        // Verify and repair: both copies torn (a power cut while each was
        // rewritten since the last sync).  A copy whose identity is intact
        // still names the format; the heap end is then found by the walk
        // (the whole file) and a catalog root that proves invalid is rebuilt
        // from the records.
        for (int i = 0; i < 2; ++i) {
            const Superblock &c = copies[i];
            if (std::memcmp(c.magic, kMagic, sizeof kMagic) == 0 && c.byte_order == kByteOrderTag &&
                c.format_major == kFormatMajor && c.page_size == kPageSize && c.heap_start == kHeapStart &&
                (best < 0 || c.generation > copies[best].generation)) {
                best = i;
            }
        }
        if (best >= 0) {
            salvaged_ = true;
            sb_ = copies[best];
            sb_.heap_end = size / kPageSize * kPageSize;
            heap_end_ = sb_.heap_end;
            return FMRT_OK;
        }
    }
    if (best < 0) {
        // Report the more specific verdict: a newer format beats damage.
        int code = (verdict[0] == FMRT_EVERSION || verdict[1] == FMRT_EVERSION) ? FMRT_EVERSION : FMRT_EFORMAT;
        // Re-run the check on a copy with that verdict so its text is the detail.
        check_superblock(copies[verdict[0] == code ? 0 : 1]);
        const std::string detail = error_message();
        return fail(code, "%s: %s", path_.c_str(), detail.c_str());
    }
    sb_ = copies[best];
    if (sb_.heap_end > size && !tolerant_) {
        return fail(FMRT_EFORMAT, "%s: file truncated (%llu bytes, heap needs %llu)", path_.c_str(),
                    static_cast<unsigned long long>(size), static_cast<unsigned long long>(sb_.heap_end));
    }
    heap_end_ = sb_.heap_end;
    return FMRT_OK;
}

namespace {
thread_local uint64_t t_last_reservation = 0;
}  // namespace

uint64_t Region::last_reservation() { return t_last_reservation; }

int Region::map(uint64_t max_size) {
    if (max_size == 0) max_size = kDefaultMaxSize;
    if (reserve_cap_ != 0 && max_size > reserve_cap_) max_size = reserve_cap_;
    max_size_ = std::max(round_up(max_size, kPageSize), heap_end());
    reserved_ = round_up(max_size_, uint64_t{1} << 21);
    t_last_reservation = reserved_;
    void *p = nullptr;
    int rc = os::map_file(&p, fd_, reserved_, !readonly_, kMaxAlignment);
    if (rc != FMRT_OK) return rc;
    base_ = static_cast<uint8_t *>(p);
    return FMRT_OK;
}

int Region::create_new(const RegionParams &p) {
    if (readonly_) return fail(FMRT_EINVAL, "cannot create a heap read-only");
    std::string tmp;
    int rc;
    if (p.scratch) {
        std::string where = p.path;
        if (where.empty()) {
            const char *t = std::getenv("TMPDIR");
            where = (t && *t) ? t : "/tmp";
        }
        path_ = where;
        if (os::is_directory(where)) {
            rc = os::create_temp(&fd_, &tmp, where);
            if (rc == FMRT_OK && !tmp.empty()) os::remove_file(tmp);
        } else {
            rc = os::create_unlinked(&fd_, where);
        }
    } else {
        path_ = p.path;
        rc = os::create_temp(&fd_, &tmp, os::parent_directory(p.path));
    }
    if (rc != FMRT_OK) return rc;
    if ((rc = os::lock_file(fd_, true)) != FMRT_OK) return rc;
    rc = format(p.initial_size ? p.initial_size : kDefaultInitialSize, p.max_size);
    if (rc == FMRT_OK && !p.scratch) {
        if ((rc = sync()) == FMRT_OK && (rc = os::link_into_place(fd_, tmp, p.path)) == FMRT_OK) {
            rc = os::sync_directory(os::parent_directory(p.path));
        }
    }
    if (rc != FMRT_OK) {
        if (!tmp.empty()) os::remove_file(tmp);
        os::unmap(base_, reserved_);
        base_ = nullptr;
        os::close_file(fd_);
        fd_ = -1;
    }
    return rc;
}

int Region::format(uint64_t initial_size, uint64_t max_size) {
    if (max_size == 0) max_size = kDefaultMaxSize;
    uint64_t size = round_up(std::max(initial_size, kHeapStart + 16 * kPageSize), kPageSize);
    if (size > max_size) {
        return fail(FMRT_ENOMEM, "initial size %llu exceeds the maximum size %llu",
                    static_cast<unsigned long long>(size), static_cast<unsigned long long>(max_size));
    }
    int rc = os::reserve_space(fd_, 0, size);
    if (rc != FMRT_OK) return rc;
    file_size_ = size;
    heap_end_ = size;
    if ((rc = map(max_size)) != FMRT_OK) return rc;
    SpanHeader free_span{SpanKind::kFree, 0, kSpanZeroed, static_cast<uint32_t>((size - kHeapStart) / kPageSize)};
    *static_cast<uint64_t *>(ptr(kHeapStart)) = encode_span(kHeapStart, free_span);
    std::memset(&sb_, 0, sizeof sb_);
    std::memcpy(sb_.magic, kMagic, sizeof kMagic);
    sb_.format_major = kFormatMajor;
    sb_.format_minor = kFormatMinor;
    sb_.byte_order = kByteOrderTag;
    sb_.page_size = kPageSize;
    sb_.generation = 0;
    sb_.heap_start = kHeapStart;
    sb_.max_size = max_size;
    os::random_bytes(sb_.uuid, sizeof sb_.uuid);
    sb_.created_unix_ns = os::now_unix_ns();
    // Both copies valid from the start (generation 1 in copy 1, 2 in copy
    // 0); copy 1 takes the writes until the first sync.
    std::lock_guard<std::mutex> lock(sb_mu_);
    if ((rc = write_superblock_to(1, kSbDirty)) != FMRT_OK) return rc;
    if ((rc = write_superblock_to(0, kSbDirty)) != FMRT_OK) return rc;
    sb_active_ = 1;
    sb_active_written_ = false;
    sb_flushed_ = true;  // a new file: nothing older to keep
    return FMRT_OK;
}

int Region::write_superblock(uint64_t flags) {
    std::lock_guard<std::mutex> lock(sb_mu_);
    return write_superblock_locked(flags);
}

int Region::write_superblock_locked(uint64_t flags) {
    // The copy in force when the file was opened may not be on disk yet (a
    // sync's second copy, or writes of a process that died): flush before
    // the first write to the other copy, which may be the only one on disk.
    if (!sb_flushed_ && !scratch_) {
        int rc = os::sync_file(fd_);
        if (rc != FMRT_OK) return rc;
    }
    sb_flushed_ = true;
    int rc = write_superblock_to(sb_active_, flags);
    if (rc == FMRT_OK) sb_active_written_ = true;
    return rc;
}

int Region::write_superblock_to(int slot, uint64_t flags) {
    Superblock next = sb_;
    next.generation = sb_.generation + 1;
    next.heap_end = heap_end();
    next.flags = flags;
    next.checksum = superblock_checksum(next);
    // One pwrite, not stores into the mapping: a killed process can then
    // never leave the copy half written (the mapping sees the same page).
    int rc = os::write_at(fd_, &next, sizeof next, static_cast<uint64_t>(slot) * kSuperblockSlotBytes);
    if (rc != FMRT_OK) return rc;
    sb_ = next;
    ++sb_writes_;
    if (slot == sb_damaged_) sb_damaged_ = -1;
    return FMRT_OK;
}

int Region::rewrite_both_superblocks() {
    if (readonly_) return fail(FMRT_EREADONLY, "the heap is read-only");
    std::lock_guard<std::mutex> lock(sb_mu_);
    int rc = write_superblock_locked(sb_.flags);
    if (rc == FMRT_OK) rc = write_superblock_to(1 - sb_active_, sb_.flags);
    // The newest state is in the other copy now: the active one may take
    // the next writes (a torn one falls back to it).
    if (rc == FMRT_OK) sb_active_written_ = false;
    return rc;
}

int Region::reserve_heap() {
    if (readonly_) return FMRT_OK;
    return os::reserve_space(fd_, 0, heap_end());
}

int Region::mark_open() {
    if (readonly_ || (sb_.flags & kSbDirty)) return FMRT_OK;
    return write_superblock(sb_.flags | kSbDirty);
}

int Region::grow_file(uint64_t size) {
    if (readonly_) return fail(FMRT_EREADONLY, "the heap is read-only");
    if (size <= file_size()) return FMRT_OK;
    if (size > max_size_) {
        return fail(FMRT_ENOMEM, "heap reached its maximum size (%llu bytes)",
                    static_cast<unsigned long long>(max_size_));
    }
    int rc = os::reserve_space(fd_, file_size(), size - file_size());
    if (rc != FMRT_OK) return rc;
    file_size_ = size;
    return FMRT_OK;
}

int Region::set_catalog_root(uint64_t off) {
    if (readonly_) return fail(FMRT_EREADONLY, "the heap is read-only");
    std::lock_guard<std::mutex> lock(sb_mu_);
    sb_.catalog_root = off;
    return write_superblock_locked(sb_.flags);
}

int Region::set_heap_end(uint64_t end) {
    heap_end_ = end;
    return write_superblock(sb_.flags);
}

int Region::sync() {
    if (readonly_ || scratch_) return FMRT_OK;
    uint64_t writes_before;
    {
        std::lock_guard<std::mutex> lock(sb_mu_);
        writes_before = sb_writes_;
    }
    int rc = os::flush_mapping(base_, file_size());
    if (rc != FMRT_OK) return rc;
    if ((rc = os::sync_file(fd_)) != FMRT_OK) return rc;
    std::lock_guard<std::mutex> lock(sb_mu_);
    sb_flushed_ = true;
    // The active copy is on disk now: it becomes the kept one.  The other
    // copy gets the same state (so damage to either copy falls back to the
    // last sync) and takes the writes until the next sync.  Not when a
    // write came in meanwhile: that one may not be on disk yet.
    if (sb_writes_ == writes_before && sb_active_written_) {
        sb_active_ = 1 - sb_active_;
        rc = write_superblock_to(sb_active_, sb_.flags);
        sb_active_written_ = rc == FMRT_OK;
    }
    return rc;
}

int Region::close_clean() {
    if (readonly_) return FMRT_OK;
    int rc = write_superblock(sb_.flags & ~kSbDirty);
    if (rc != FMRT_OK) return rc;
    return sync();
}

}  // namespace fmrt

// A differential test: random puts, replaces, removes, renames and reopens
// on the catalog and on a std::map model.  After each reopen the whole
// catalog (order, fields, the bytes of every named allocation) must match
// the model, every allocation left unnamed must still be live and intact,
// and verify must find no problem.  FMRT_TEST_OPS sets the number of
// operations (default 20000), FMRT_TEST_SEED the seed.
#include <map>

#include "catalog_util.h"

namespace fmrt_catalog_test {
namespace {

struct ModelAlloc {
    uint64_t bytes = 0;  // bytes holding the pattern
    uint64_t seed = 0;
};

struct ModelEntry {
    uint64_t offset = 0;  // 0: no allocation
    uint64_t size = 0;
    uint32_t type = 0;
    std::string meta;
};

class CatalogModel : public HeapTest {
protected:
    // The model: entries by name (byte-wise order), every live allocation the
    // test made by offset, and which of them no entry names.
    std::map<std::string, ModelEntry, decltype(&bytewise_less)> entries_{&bytewise_less};
    std::map<uint64_t, ModelAlloc> allocs_;
    std::vector<std::string> pool_;
    Rng rng_{test_seed(2024)};
    uint64_t op_ = 0;

    void make_pool() {
        for (int i = 0; i < 600; ++i) {
            std::string n = "n" + std::to_string(i);
            switch (i % 6) {
            case 1: n += "/\xE6\x97\xA5\xE6\x9C\xAC"; break;
            case 2: n = "\xF0\x9F\x93\xA6" + n; break;
            case 3: n += std::string(rng_.between(20, 300), 'x'); break;
            case 4: n = n + "-" + std::to_string(rng_.next()); break;
            default: break;
            }
            if (i == 5) n = std::string(FMRT_NAME_MAX - 3, 'L') + "end";
            pool_.push_back(n);
        }
    }

    const std::string &pick_name() { return pool_[rng_.below(pool_.size())]; }

    bool named(uint64_t off) const {
        for (const auto &kv : entries_)
            if (kv.second.offset == off) return true;
        return false;
    }

    // A new allocation with a pattern, or none.
    uint64_t new_allocation() {
        if (rng_.chance(0.1)) return 0;
        uint64_t bytes = rng_.chance(0.05) ? rng_.between(65 * KiB, 300 * KiB) : rng_.between(1, 2000);
        void *p = fmrt_malloc(rt_, bytes);
        EXPECT_NE(p, nullptr) << "op " << op_;
        if (p == nullptr) return 0;
        const uint64_t seed = rng_.next();
        fill_pattern(p, bytes, seed);
        const uint64_t off = offset(p);
        allocs_[off] = ModelAlloc{bytes, seed};
        return off;
    }

    std::string new_meta() {
        std::string m(rng_.chance(0.3) ? 0 : rng_.between(1, rng_.chance(0.02) ? 20000 : 64), '\0');
        for (auto &c : m) c = static_cast<char>(rng_.next());
        return m;
    }

    // An allocation no longer named is freed by the catalog (free = true) or
    // stays live in the model.
    void forget(uint64_t off, bool freed) {
        if (off == 0 || !freed || named(off)) return;
        EXPECT_EQ(fmrt_usable_size(rt_, at(off)), 0u) << "op " << op_ << ": offset " << off << " should be freed";
        allocs_.erase(off);
    }

    void do_put() {
        const std::string name = pick_name();
        auto it = entries_.find(name);
        const bool exists = it != entries_.end();
        unsigned flags = 0;
        if (rng_.chance(0.6)) flags |= FMRT_PUT_REPLACE;
        if (rng_.chance(0.5)) flags |= FMRT_PUT_FREE_REPLACED;
        uint64_t off;
        if (exists && it->second.offset != 0 && rng_.chance(0.1)) off = it->second.offset;  // same allocation
        else off = new_allocation();
        const uint64_t usable = off ? fmrt_usable_size(rt_, at(off)) : 0;
        const uint64_t size = off ? rng_.between(0, usable) : 0;
        ModelEntry e{off, size, static_cast<uint32_t>(rng_.next()), new_meta()};
        int rc = put(name, off ? at(off) : nullptr, size, e.type, e.meta, flags);
        if (exists && !(flags & FMRT_PUT_REPLACE)) {
            ASSERT_STATUS(rc, FMRT_EEXISTS) << "op " << op_ << " put " << name;
            return;
        }
        ASSERT_FMRT_OK(rc) << "op " << op_ << " put " << name;
        const uint64_t old = exists ? it->second.offset : 0;
        entries_[name] = e;
        if (exists && old != off) forget(old, (flags & FMRT_PUT_FREE_REPLACED) != 0);
    }

    void do_remove() {
        const std::string name = pick_name();
        auto it = entries_.find(name);
        const bool free = rng_.chance(0.5);
        int rc = fmrt_catalog_remove(rt_, name.c_str(), free ? FMRT_REMOVE_FREE : 0);
        if (it == entries_.end()) {
            ASSERT_STATUS(rc, FMRT_ENOTFOUND) << "op " << op_;
            return;
        }
        ASSERT_FMRT_OK(rc) << "op " << op_ << " remove " << name;
        const uint64_t old = it->second.offset;
        entries_.erase(it);
        forget(old, free);
    }

    void do_rename() {
        const std::string from = pick_name(), to = pick_name();
        auto src = entries_.find(from);
        auto dst = entries_.find(to);
        unsigned flags = 0;
        if (rng_.chance(0.5)) flags |= FMRT_PUT_REPLACE;
        if (rng_.chance(0.5)) flags |= FMRT_PUT_FREE_REPLACED;
        int rc = fmrt_catalog_rename(rt_, from.c_str(), to.c_str(), flags);
        if (src == entries_.end()) {
            ASSERT_STATUS(rc, FMRT_ENOTFOUND) << "op " << op_;
            return;
        }
        if (from == to) {
            ASSERT_FMRT_OK(rc) << "op " << op_ << " rename to itself";
            return;
        }
        if (dst != entries_.end() && !(flags & FMRT_PUT_REPLACE)) {
            ASSERT_STATUS(rc, FMRT_EEXISTS) << "op " << op_;
            return;
        }
        ASSERT_FMRT_OK(rc) << "op " << op_ << " rename " << from << " -> " << to;
        ModelEntry moved = src->second;
        uint64_t old = dst != entries_.end() ? dst->second.offset : 0;
        entries_.erase(src);
        entries_[to] = moved;
        if (old != moved.offset) forget(old, (flags & FMRT_PUT_FREE_REPLACED) != 0);
    }

    void do_get() {
        const std::string name = pick_name();
        fmrt_entry e;
        int rc = get(name, &e);
        auto it = entries_.find(name);
        if (it == entries_.end()) {
            ASSERT_STATUS(rc, FMRT_ENOTFOUND) << "op " << op_;
            return;
        }
        ASSERT_FMRT_OK(rc) << "op " << op_;
        ASSERT_EQ(check_entry(e, it->second), "") << "op " << op_ << " get " << name;
    }

    // Sometimes the test frees an unnamed allocation itself.
    void do_free_unnamed() {
        if (allocs_.empty()) return;
        auto it = allocs_.lower_bound(rng_.next() % (allocs_.rbegin()->first + 1));
        if (it == allocs_.end() || named(it->first)) return;
        ASSERT_FMRT_OK(fmrt_free(rt_, at(it->first))) << "op " << op_;
        allocs_.erase(it);
    }

    std::string check_entry(const fmrt_entry &e, const ModelEntry &m) {
        if (e.offset != m.offset) return "offset " + std::to_string(e.offset) + ", expected " + std::to_string(m.offset);
        if (e.ptr != (m.offset ? at(m.offset) : nullptr)) return "pointer differs from the offset's";
        if (e.size != m.size) return "size differs";
        if (e.type != m.type) return "type differs";
        if (meta_of(e) != m.meta) return "meta differs";
        return "";
    }

    // The whole catalog against the model, and every allocation's bytes.
    void check_everything() {
        std::vector<std::string> expected;
        for (const auto &kv : entries_) expected.push_back(kv.first);
        ASSERT_EQ(count_of(rt_), entries_.size()) << "op " << op_;
        ASSERT_TRUE(names_in_order(rt_) == expected) << "op " << op_ << ": iteration differs from the model";
        fmrt_entry e = FMRT_ENTRY_INIT;
        int rc = fmrt_catalog_next(&e, rt_, nullptr);
        for (const auto &kv : entries_) {
            ASSERT_FMRT_OK(rc) << "op " << op_;
            ASSERT_EQ(name_of(e), kv.first);
            ASSERT_EQ(check_entry(e, kv.second), "") << "op " << op_ << " entry " << kv.first;
            std::string after = kv.first;
            rc = fmrt_catalog_next(&e, rt_, after.c_str());
        }
        uint64_t unnamed = 0;
        for (const auto &kv : allocs_) {
            void *p = at(kv.first);
            ASSERT_GE(fmrt_usable_size(rt_, p), kv.second.bytes) << "op " << op_ << ": allocation at " << kv.first;
            ASSERT_TRUE(HasPattern(p, kv.second.bytes, kv.second.seed)) << "op " << op_ << ": allocation at " << kv.first;
            if (!named(kv.first)) ++unnamed;
        }
        fmrt_report r = verify_of(rt_);
        ASSERT_EQ(r.problems, 0u) << "op " << op_ << ": " << describe(r);
        ASSERT_EQ(r.catalog_entries, entries_.size()) << describe(r);
        ASSERT_EQ(r.unreachable_allocations, unnamed) << describe(r);
        ASSERT_EQ(r.transient_allocations, 0u) << describe(r);
    }
};

TEST_F(CatalogModel, RandomOperationsMatchTheModelAcrossReopens) {
    make_pool();
    const char *env = std::getenv("FMRT_TEST_OPS");
    const uint64_t ops = env != nullptr && *env != '\0' ? std::strtoull(env, nullptr, 10) : 20000;
    uint64_t reopens = 0;
    for (op_ = 0; op_ < ops; ++op_) {
        const uint64_t roll = rng_.below(1000);
        if (roll < 400) do_put();
        else if (roll < 600) do_remove();
        else if (roll < 800) do_rename();
        else if (roll < 950) do_get();
        else if (roll < 998) do_free_unnamed();
        else {
            reopen();
            ++reopens;
            check_everything();
        }
        if (HasFatalFailure()) return;
    }
    reopen();
    check_everything();
    EXPECT_GE(reopens, 10u);
    RecordProperty("entries", static_cast<int>(entries_.size()));
}

}  // namespace
}  // namespace fmrt_catalog_test

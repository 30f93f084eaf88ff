// The catalog's name index (name_index.h).
#include "name_index.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace fmrt {

uint64_t name_prefix(std::string_view s) {
    uint8_t b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::memcpy(b, s.data(), s.size() < 8 ? s.size() : 8);
    uint64_t v;
    std::memcpy(&v, b, sizeof v);
    return __builtin_bswap64(v);
}

NameIndex::NameIndex() : table_(64) {}

NameIndex::~NameIndex() { clear(); }

int NameIndex::compare(uint64_t pfx, std::string_view name, uint64_t epfx, const Entry *e) {
    if (pfx != epfx) return pfx < epfx ? -1 : 1;
    const int c = name.compare(e->view());
    return (c > 0) - (c < 0);
}

size_t NameIndex::leaf_pos(const Leaf *l, uint64_t pfx, std::string_view name) {
    size_t lo = 0, hi = static_cast<size_t>(l->n);
    while (lo < hi) {
        const size_t mid = (lo + hi) / 2;
        if (compare(pfx, name, l->pfx[mid], l->e[mid]) > 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

int NameIndex::child_of(const Inner *in, uint64_t pfx, std::string_view name) {
    int lo = 0, hi = in->n;
    while (lo < hi) {
        const int mid = (lo + hi) / 2;
        if (compare(pfx, name, in->pfx[mid], in->sep[mid]) >= 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

NameIndex::Leaf *NameIndex::descend(uint64_t pfx, std::string_view name, Inner **path, int *idx, int *depth) const {
    Node *n = root_;
    while (n != nullptr && !n->leaf) {
        auto *in = static_cast<Inner *>(n);
        const int c = child_of(in, pfx, name);
        path[*depth] = in;
        idx[*depth] = c;
        ++*depth;
        n = in->child[c];
    }
    return static_cast<Leaf *>(n);
}

NameIndex::Entry *NameIndex::find(std::string_view name) const {
    const uint64_t h = XXH3_64bits(name.data(), name.size());
    const size_t mask = table_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const Slot &s = table_[i];
        if (s.e == nullptr) return nullptr;
        if (s.hash == h && s.e->len == name.size() && std::memcmp(s.e->name, name.data(), name.size()) == 0) return s.e;
    }
}

void NameIndex::hash_insert(Entry *e) {
    if ((size_ + 1) * 2 > table_.size()) hash_grow();
    const size_t mask = table_.size() - 1;
    size_t i = e->hash & mask;
    while (table_[i].e != nullptr) i = (i + 1) & mask;
    table_[i] = Slot{e->hash, e};
}

void NameIndex::hash_grow() {
    std::vector<Slot> bigger(table_.size() * 2);
    const size_t mask = bigger.size() - 1;
    for (const Slot &s : table_) {
        if (s.e == nullptr) continue;
        size_t i = s.hash & mask;
        while (bigger[i].e != nullptr) i = (i + 1) & mask;
        bigger[i] = s;
    }
    table_.swap(bigger);
}

void NameIndex::hash_erase(const Entry *e) {
    const size_t mask = table_.size() - 1;
    size_t i = e->hash & mask;
    while (table_[i].e != e) {
        if (table_[i].e == nullptr) return;  // not there (cannot happen for an indexed entry)
        i = (i + 1) & mask;
    }
    // Backward shift: move up every later entry of the probe run that may
    // live at the hole, so lookups never meet a gap before their entry.
    size_t j = i;
    for (;;) {
        table_[i].e = nullptr;
        for (;;) {
            j = (j + 1) & mask;
            if (table_[j].e == nullptr) return;
            const size_t home = table_[j].hash & mask;
            const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (!stays) break;
        }
        table_[i] = table_[j];
        i = j;
    }
}

NameIndex::Entry *NameIndex::insert(std::string_view name, uint64_t record, uint64_t slot) {
    auto *e = static_cast<Entry *>(std::malloc(offsetof(Entry, name) + name.size() + 1));
    if (e == nullptr) throw std::bad_alloc();
    e->record = record;
    e->slot = slot;
    e->hash = XXH3_64bits(name.data(), name.size());
    e->prefix = name_prefix(name);
    e->len = static_cast<uint32_t>(name.size());
    std::memcpy(e->name, name.data(), name.size());
    e->name[name.size()] = '\0';

    // Find the place, and count the nodes a split would need, so that every
    // allocation is made before the tree changes (a failure changes nothing).
    Inner *path[kMaxDepth];
    int idx[kMaxDepth];
    int depth = 0;
    Leaf *leaf = descend(e->prefix, name, path, idx, &depth);
    int splits = 0;  // full nodes from the leaf up
    if (leaf != nullptr && leaf->n == kFan) {
        splits = 1;
        for (int d = depth - 1; d >= 0 && path[d]->n == kFan; --d) ++splits;
    }
    Node *spare[66];
    int nspare = 0;
    try {
        // Each node says its kind from the start: the clean-up below goes by it.
        if (leaf == nullptr || leaf->n == kFan) {
            spare[nspare] = new Leaf();
            spare[nspare++]->leaf = true;
        }
        for (int k = 1; k < splits + (splits > depth ? 1 : 0); ++k) {  // and a new root when the root splits
            spare[nspare] = new Inner();
            spare[nspare++]->leaf = false;
        }
        if ((size_ + 1) * 2 > table_.size()) hash_grow();
    } catch (...) {
        for (int k = 0; k < nspare; ++k) {
            if (spare[k]->leaf) delete static_cast<Leaf *>(spare[k]);
            else delete static_cast<Inner *>(spare[k]);
        }
        std::free(e);
        throw;
    }
    int used = 0;
    auto take_leaf = [&] {
        auto *l = static_cast<Leaf *>(spare[used++]);
        l->leaf = true;
        l->n = 0;
        l->prev = l->next = nullptr;
        return l;
    };
    auto take_inner = [&] {
        auto *in = static_cast<Inner *>(spare[used++]);
        in->leaf = false;
        in->n = 0;
        return in;
    };
    hash_insert(e);
    ++size_;
    if (leaf == nullptr) {
        leaf = take_leaf();
        leaf->pfx[0] = e->prefix;
        leaf->e[0] = e;
        leaf->n = 1;
        e->leaf = leaf;
        root_ = first_leaf_ = leaf;
        return e;
    }
    const size_t pos = leaf_pos(leaf, e->prefix, name);
    if (leaf->n < kFan) {
        for (size_t k = static_cast<size_t>(leaf->n); k > pos; --k) {
            leaf->pfx[k] = leaf->pfx[k - 1];
            leaf->e[k] = leaf->e[k - 1];
        }
        leaf->pfx[pos] = e->prefix;
        leaf->e[pos] = e;
        leaf->n++;
        e->leaf = leaf;
        return e;
    }
    // Split the leaf: kFan + 1 keys, the lower half stays.
    Entry *all[kFan + 1];
    for (size_t k = 0, s = 0; k <= static_cast<size_t>(kFan); ++k) all[k] = k == pos ? e : leaf->e[s++];
    Leaf *right = take_leaf();
    const int keep = (kFan + 1) / 2;
    leaf->n = keep;
    right->n = kFan + 1 - keep;
    for (int k = 0; k < kFan + 1; ++k) {
        Leaf *dst = k < keep ? leaf : right;
        const int at = k < keep ? k : k - keep;
        dst->e[at] = all[k];
        dst->pfx[at] = all[k]->prefix;
        all[k]->leaf = dst;
    }
    right->next = leaf->next;
    right->prev = leaf;
    if (leaf->next) leaf->next->prev = right;
    leaf->next = right;
    // Carry (separator, right node) up.
    Entry *sep = right->e[0];
    Node *new_child = right;
    for (int d = depth - 1; d >= 0; --d) {
        Inner *in = path[d];
        const int at = idx[d];  // the separator goes at `at`, the child at at + 1
        if (in->n < kFan) {
            for (int k = in->n; k > at; --k) {
                in->sep[k] = in->sep[k - 1];
                in->pfx[k] = in->pfx[k - 1];
                in->child[k + 1] = in->child[k];
            }
            in->sep[at] = sep;
            in->pfx[at] = sep->prefix;
            in->child[at + 1] = new_child;
            in->n++;
            return e;
        }
        Entry *seps[kFan + 1];
        Node *kids[kFan + 2];
        for (int k = 0, s = 0; k <= kFan; ++k) seps[k] = k == at ? sep : in->sep[s++];
        for (int k = 0, s = 0; k <= kFan + 1; ++k) kids[k] = k == at + 1 ? new_child : in->child[s++];
        const int m = kFan / 2;  // seps[m] moves up
        Inner *r = take_inner();
        in->n = m;
        for (int k = 0; k < m; ++k) {
            in->sep[k] = seps[k];
            in->pfx[k] = seps[k]->prefix;
        }
        for (int k = 0; k <= m; ++k) in->child[k] = kids[k];
        r->n = kFan - m;
        for (int k = 0; k < r->n; ++k) {
            r->sep[k] = seps[m + 1 + k];
            r->pfx[k] = seps[m + 1 + k]->prefix;
        }
        for (int k = 0; k <= r->n; ++k) r->child[k] = kids[m + 1 + k];
        sep = seps[m];
        new_child = r;
    }
    Inner *top = take_inner();
    top->n = 1;
    top->sep[0] = sep;
    top->pfx[0] = sep->prefix;
    top->child[0] = root_;
    top->child[1] = new_child;
    root_ = top;
    return e;
}

void NameIndex::erase(Entry *e) {
    // Most entries are not the first of their leaf: then no separator names
    // them and the leaf keeps others, so the leaf alone changes (no descent).
    auto *home = static_cast<Leaf *>(e->leaf);
    if (home != nullptr) {
        int pos = -1;
        for (int k = 1; k < home->n; ++k) {
            if (home->e[k] == e) {
                pos = k;
                break;
            }
        }
        if (pos > 0) {
            hash_erase(e);
            --size_;
            for (int k = pos; k + 1 < home->n; ++k) {
                home->e[k] = home->e[k + 1];
                home->pfx[k] = home->pfx[k + 1];
            }
            home->n--;
            std::free(e);
            return;
        }
    }
    Inner *path[kMaxDepth];
    int idx[kMaxDepth];
    int depth = 0;
    const std::string_view name = e->view();
    Leaf *leaf = descend(e->prefix, name, path, idx, &depth);
    if (leaf == nullptr) return;
    const size_t pos = leaf_pos(leaf, e->prefix, name);
    if (pos >= static_cast<size_t>(leaf->n) || leaf->e[pos] != e) return;  // not indexed
    hash_erase(e);
    --size_;
    for (int k = static_cast<int>(pos); k + 1 < leaf->n; ++k) {
        leaf->e[k] = leaf->e[k + 1];
        leaf->pfx[k] = leaf->pfx[k + 1];
    }
    leaf->n--;
    // The entry that takes e's place as the first of any subtree it began.
    Entry *succ = pos < static_cast<size_t>(leaf->n) ? leaf->e[pos] : (leaf->next ? leaf->next->e[0] : nullptr);
    if (leaf->n == 0) {
        // An empty leaf goes, and so does every inner node left without a
        // child; a node that keeps a child keeps working however few it has.
        if (leaf->prev) leaf->prev->next = leaf->next;
        else first_leaf_ = leaf->next;
        if (leaf->next) leaf->next->prev = leaf->prev;
        delete leaf;
        int d = depth - 1;
        if (d < 0) root_ = nullptr;
        for (; d >= 0; --d) {
            Inner *in = path[d];
            const int c = idx[d];
            if (in->n == 0) {  // its only child went
                delete in;
                path[d] = nullptr;
                if (d == 0) root_ = nullptr;
                continue;
            }
            if (c > 0) {  // the child and the separator before it
                for (int k = c - 1; k + 1 < in->n; ++k) {
                    in->sep[k] = in->sep[k + 1];
                    in->pfx[k] = in->pfx[k + 1];
                }
                for (int k = c; k < in->n; ++k) in->child[k] = in->child[k + 1];
            } else {  // the first child and the separator after it
                for (int k = 0; k + 1 < in->n; ++k) {
                    in->sep[k] = in->sep[k + 1];
                    in->pfx[k] = in->pfx[k + 1];
                }
                for (int k = 0; k < in->n; ++k) in->child[k] = in->child[k + 1];
            }
            in->n--;
            break;
        }
    }
    // A separator naming e began a subtree that now begins with succ.
    for (int d = 0; d < depth; ++d) {
        Inner *in = path[d];
        if (in == nullptr) continue;
        for (int k = 0; k < in->n; ++k) {
            if (in->sep[k] == e && succ != nullptr) {
                in->sep[k] = succ;
                in->pfx[k] = succ->prefix;
            }
        }
    }
    while (root_ != nullptr && !root_->leaf && static_cast<Inner *>(root_)->n == 0) {
        auto *old = static_cast<Inner *>(root_);
        root_ = old->child[0];
        delete old;
    }
    std::free(e);
}

NameIndex::Entry *NameIndex::first() const { return first_leaf_ != nullptr ? first_leaf_->e[0] : nullptr; }

NameIndex::Entry *NameIndex::upper_bound(std::string_view after) const {
    const uint64_t pfx = name_prefix(after);
    const Node *n = root_;
    if (n == nullptr) return nullptr;
    while (!n->leaf) {
        const auto *in = static_cast<const Inner *>(n);
        n = in->child[child_of(in, pfx, after)];
    }
    const auto *leaf = static_cast<const Leaf *>(n);
    size_t lo = 0, hi = static_cast<size_t>(leaf->n);
    while (lo < hi) {
        const size_t mid = (lo + hi) / 2;
        if (compare(pfx, after, leaf->pfx[mid], leaf->e[mid]) >= 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo < static_cast<size_t>(leaf->n)) return leaf->e[lo];
    return leaf->next != nullptr ? leaf->next->e[0] : nullptr;
}

void NameIndex::free_tree(Node *n) {
    if (n == nullptr) return;
    if (n->leaf) {
        delete static_cast<Leaf *>(n);
        return;
    }
    auto *in = static_cast<Inner *>(n);
    for (int k = 0; k <= in->n; ++k) free_tree(in->child[k]);
    delete in;
}

void NameIndex::clear() {
    for (const Leaf *l = first_leaf_; l != nullptr; l = l->next) {
        for (int i = 0; i < l->n; ++i) std::free(l->e[i]);
    }
    free_tree(root_);
    root_ = nullptr;
    first_leaf_ = nullptr;
    size_ = 0;
    // Emptied in place: clear() allocates nothing, so it cannot fail halfway
    // (the table keeps its capacity).
    std::fill(table_.begin(), table_.end(), Slot{0, nullptr});
}

bool NameIndex::check_node(const Node *n, const Entry *lo, const Entry *hi, int depth, int *leaf_depth,
                           size_t *count) const {
    auto less = [](const Entry *a, const Entry *b) { return a->view() < b->view(); };
    if (n->leaf) {
        const auto *l = static_cast<const Leaf *>(n);
        if (l->n < 1 || l->n > kFan) return false;
        if (*leaf_depth < 0) *leaf_depth = depth;
        if (*leaf_depth != depth) return false;
        for (int i = 0; i < l->n; ++i) {
            if (l->pfx[i] != l->e[i]->prefix || l->e[i]->leaf != l) return false;
            if (i > 0 && !less(l->e[i - 1], l->e[i])) return false;
            if (lo != nullptr && less(l->e[i], lo)) return false;
            if (hi != nullptr && !less(l->e[i], hi)) return false;
        }
        if (lo != nullptr && l->e[0] != lo && depth > 0) {
            // lo is the separator of this subtree: its first entry.
            return false;
        }
        *count += static_cast<size_t>(l->n);
        return true;
    }
    const auto *in = static_cast<const Inner *>(n);
    if (in->n < 0 || in->n > kFan) return false;
    for (int k = 0; k < in->n; ++k) {
        if (in->pfx[k] != in->sep[k]->prefix) return false;
        if (k > 0 && !less(in->sep[k - 1], in->sep[k])) return false;
    }
    for (int k = 0; k <= in->n; ++k) {
        const Entry *clo = k == 0 ? lo : in->sep[k - 1];
        const Entry *chi = k == in->n ? hi : in->sep[k];
        if (!check_node(in->child[k], clo, chi, depth + 1, leaf_depth, count)) return false;
    }
    return true;
}

bool NameIndex::check() const {
    size_t count = 0;
    int leaf_depth = -1;
    if (root_ != nullptr && !check_node(root_, nullptr, nullptr, 0, &leaf_depth, &count)) return false;
    if (count != size_) return false;
    // The leaf list holds every entry in order.
    size_t listed = 0;
    const Leaf *prev = nullptr;
    for (const Leaf *l = first_leaf_; l != nullptr; l = l->next) {
        if (l->prev != prev) return false;
        if (prev != nullptr && !(prev->e[prev->n - 1]->view() < l->e[0]->view())) return false;
        listed += static_cast<size_t>(l->n);
        for (int i = 0; i < l->n; ++i) {
            if (find(l->e[i]->view()) != l->e[i]) return false;
        }
        prev = l;
    }
    if (listed != size_) return false;
    size_t in_table = 0;
    for (const Slot &s : table_) in_table += s.e != nullptr;
    return in_table == size_ && (table_.size() & (table_.size() - 1)) == 0;
}

}  // namespace fmrt

// The catalog's index of names in RAM, rebuilt at every open: a hash table
// for lookups by name and a B+ tree for the name order that
// fmrt_catalog_next walks.  Both are built for large catalogs: the hash
// table is open-addressed (one probe line, then the entry), and the tree
// keeps 32 keys per node with the first 8 bytes of each name inline, so a
// descent through 100k names touches about four nodes and reads a name only
// when 8-byte prefixes tie.  Entries are allocated once and never move while
// they are indexed; both structures point at them.
#ifndef FMRT_NAME_INDEX_H
#define FMRT_NAME_INDEX_H

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace fmrt {

class NameIndex {
public:
    struct Entry {
        uint64_t record;  // offset of the record in the file
        uint64_t slot;    // index in the catalog table
        uint64_t hash;
        uint64_t prefix;  // the first 8 bytes, big-endian, zero-padded
        void *leaf;       // the tree leaf holding it (kept by insert and splits)
        uint32_t len;
        char name[1];     // len bytes and a NUL
        std::string_view view() const { return std::string_view(name, len); }
    };

    NameIndex();
    ~NameIndex();
    NameIndex(const NameIndex &) = delete;
    NameIndex &operator=(const NameIndex &) = delete;

    // The entry named `name`, or nullptr.
    Entry *find(std::string_view name) const;
    // Adds `name`, which must not be indexed.  Throws std::bad_alloc.
    Entry *insert(std::string_view name, uint64_t record, uint64_t slot);
    // Removes and frees an indexed entry.
    void erase(Entry *e);
    // The first entry in name order, and the first whose name sorts after
    // `after` (nullptr at the end).
    Entry *first() const;
    Entry *upper_bound(std::string_view after) const;
    // Every entry in name order (fn must not change the index).
    template <class Fn>
    void for_each(Fn &&fn) const {
        for (const Leaf *l = first_leaf_; l != nullptr; l = l->next) {
            for (int i = 0; i < l->n; ++i) fn(l->e[i]);
        }
    }
    size_t size() const { return size_; }
    void clear();

    // Checks the tree's invariants (order, separators, links, counts) and
    // the hash table's; for tests.
    bool check() const;

private:
    static constexpr int kFan = 32;
    struct Node {
        bool leaf;
        int n;  // keys in a leaf; separators in an inner node (children: n + 1)
    };
    struct Leaf : Node {
        uint64_t pfx[kFan];
        Entry *e[kFan];
        Leaf *prev, *next;
    };
    struct Inner : Node {
        uint64_t pfx[kFan];
        Entry *sep[kFan];  // sep[i]: the first name of child[i + 1]
        Node *child[kFan + 1];
    };
    struct Slot {
        uint64_t hash;
        Entry *e;  // nullptr: empty
    };

    static int compare(uint64_t pfx, std::string_view name, uint64_t epfx, const Entry *e);
    static size_t leaf_pos(const Leaf *l, uint64_t pfx, std::string_view name);   // first key >= name
    static int child_of(const Inner *in, uint64_t pfx, std::string_view name);    // child holding name
    // The leaf where `name` belongs, with the inner nodes passed and the
    // child taken in each (root first).  Every split node holds at least 16
    // children, so a tree of kMaxDepth levels would need more than 16^63
    // names.
    static constexpr int kMaxDepth = 64;
    Leaf *descend(uint64_t pfx, std::string_view name, Inner **path, int *idx, int *depth) const;
    void hash_insert(Entry *e);
    void hash_erase(const Entry *e);
    void hash_grow();
    void free_tree(Node *n);
    bool check_node(const Node *n, const Entry *lo, const Entry *hi, int depth, int *leaf_depth,
                    size_t *count) const;

    Node *root_ = nullptr;
    Leaf *first_leaf_ = nullptr;
    size_t size_ = 0;
    std::vector<Slot> table_;  // power-of-two capacity, at most half full
};

// The big-endian value of the first 8 bytes of `s`, zero-padded: ordering
// these numbers orders names by their first 8 bytes (names hold no NUL).
uint64_t name_prefix(std::string_view s);

}  // namespace fmrt

#endif  // FMRT_NAME_INDEX_H

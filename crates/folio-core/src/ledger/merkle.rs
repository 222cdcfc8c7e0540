//! RFC 6962 Merkle trees over event hashes: roots, a compact frontier for
//! appending, inclusion proofs and their verification.
//!
//! Leaf hash `BLAKE3(0x00 || event hash)`, node hash
//! `BLAKE3(0x01 || left || right)`; the tree of `n` leaves splits at the
//! largest power of two below `n` (RFC 6962 §2.1, with BLAKE3 for SHA-256).

use serde::{Deserialize, Serialize};

/// A 32-byte BLAKE3 hash in the ledger: an event's hash, a Merkle leaf,
/// node or root. Shown as 64 hex digits; serialised by postcard as its 32
/// bytes (the checkpoint's format) and in JSON as hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// BLAKE3 of `bytes`.
    pub fn of(bytes: &[u8]) -> Hash {
        Hash(*blake3::hash(bytes).as_bytes())
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 hex digits.
    pub fn to_hex(&self) -> String {
        crate::id::ObjectId(self.0).to_hex()
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Option<Hash> {
        s.parse::<crate::id::ObjectId>().ok().map(|o| Hash(o.0))
    }
}

impl std::fmt::Display for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hash({})", &self.to_hex()[..12])
    }
}

impl Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_hex())
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            Hash::from_hex(&s).ok_or_else(|| serde::de::Error::custom("not a 64-digit hex hash"))
        } else {
            <[u8; 32]>::deserialize(d).map(Hash)
        }
    }
}

/// The leaf hash of an event hash.
pub fn leaf(event: &Hash) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(&[0]);
    h.update(&event.0);
    Hash(*h.finalize().as_bytes())
}

/// The hash of an inner node.
pub fn node(left: &Hash, right: &Hash) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(&[1]);
    h.update(&left.0);
    h.update(&right.0);
    Hash(*h.finalize().as_bytes())
}

/// The root of the empty tree: BLAKE3 of nothing.
pub fn empty_root() -> Hash {
    Hash::of(b"")
}

fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// The root over leaf hashes (O(n)).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The roots of the perfect subtrees covering the leaves so far, largest
/// first: enough to append and to compute the root in O(log n).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frontier {
    /// Leaves so far.
    pub size: u64,
    /// (height, root) of each perfect subtree, largest first.
    pub peaks: Vec<(u32, Hash)>,
}

impl Frontier {
    /// Adds a leaf (already leaf-hashed).
    pub fn push(&mut self, leaf: Hash) {
        let mut cur = (0u32, leaf);
        while let Some(&(h, ref r)) = self.peaks.last() {
            if h != cur.0 {
                break;
            }
            cur = (h + 1, node(r, &cur.1));
            self.peaks.pop();
        }
        self.peaks.push(cur);
        self.size += 1;
    }

    /// The RFC 6962 root of the leaves so far.
    pub fn root(&self) -> Hash {
        let mut it = self.peaks.iter().rev();
        let Some(&(_, mut acc)) = it.next() else {
            return empty_root();
        };
        for (_, p) in it {
            acc = node(p, &acc);
        }
        acc
    }
}

/// An inclusion proof: the sibling hashes from the leaf up (RFC 6962 §2.1.1).
pub fn inclusion_path(leaves: &[Hash], index: usize) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    if index < k {
        let mut p = inclusion_path(&leaves[..k], index);
        p.push(root(&leaves[k..]));
        p
    } else {
        let mut p = inclusion_path(&leaves[k..], index - k);
        p.push(root(&leaves[..k]));
        p
    }
}

/// Checks that `leaf` is leaf `index` of a tree of `size` leaves with
/// `root`, given its inclusion path (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, path: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf(&Hash::of(&i.to_le_bytes()))).collect()
    }

    #[test]
    fn frontier_root_equals_full_root() {
        let ls = leaves(37);
        let mut f = Frontier::default();
        assert_eq!(f.root(), root(&[]));
        for (i, l) in ls.iter().enumerate() {
            f.push(*l);
            assert_eq!(f.root(), root(&ls[..=i]), "size {}", i + 1);
        }
    }

    #[test]
    fn every_inclusion_proof_verifies_and_tampering_fails() {
        for n in 1..20 {
            let ls = leaves(n);
            let r = root(&ls);
            for i in 0..n {
                let p = inclusion_path(&ls, i);
                assert!(
                    verify_inclusion(&ls[i], i as u64, n as u64, &p, &r),
                    "n={n} i={i}"
                );
                if !p.is_empty() {
                    let mut bad = p.clone();
                    bad[0].0[0] ^= 1;
                    assert!(!verify_inclusion(&ls[i], i as u64, n as u64, &bad, &r));
                    let j = (i + 1) % n;
                    assert!(
                        !verify_inclusion(&ls[i], j as u64, n as u64, &p, &r),
                        "n={n} i={i} as {j}"
                    );
                }
                assert!(!verify_inclusion(&ls[i], n as u64, n as u64, &p, &r));
            }
        }
    }
}

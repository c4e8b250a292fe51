// Qcow2Image::allocated_clusters: which guest clusters the image itself
// maps (data, zero or compressed clusters in its own L2 tables), as
// opposed to those it leaves to its backing file. What a commit copies into
// the backing file (disk/image_commit.h).
#include "disk/qcow2/qcow2_image.h"

namespace pv::disk {

int Qcow2Image::allocated_clusters(std::vector<uint64_t>& out) {
  std::lock_guard lock(mu_);
  const uint64_t clusters = (h_.virtual_size + h_.cluster_size - 1) >> h_.cluster_bits;
  const uint64_t per_l2 = h_.l2_entries();
  for (uint64_t l1i = 0; l1i < l1_.size() && l1i * per_l2 < clusters; l1i++) {
    qcow2::ClusterCache::EntryPtr l2;
    if (int r = load_l2(l1i, l2)) return r;
    if (!l2) continue;
    for (uint64_t i = 0; i < per_l2 && l1i * per_l2 + i < clusters; i++) {
      Mapping m;
      if (int r = decode_l2(qcow2::load_be64(&l2->bytes[i * 8]), m)) return r;
      if (m.kind != Mapping::Kind::kUnallocated) out.push_back(l1i * per_l2 + i);
    }
  }
  return 0;
}

}  // namespace pv::disk

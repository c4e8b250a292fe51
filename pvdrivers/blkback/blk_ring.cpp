#include "blkback/blk_ring.h"

#include <cstring>

namespace pv::blkback {
namespace B = xen::blkif;

bool parse_abi(const std::string& protocol, Abi& out) {
  if (protocol.empty() || protocol == "x86_64-abi") out = Abi::kNative;
  else if (protocol == "x86_32-abi") out = Abi::kX86_32;
  else return false;
  return true;
}

const char* abi_name(Abi a) { return a == Abi::kNative ? "x86_64-abi" : "x86_32-abi"; }

BlkRing::BlkRing(Abi abi, void* mem, uint64_t bytes) : abi_(abi) {
  if (abi == Abi::kNative) native_ = B::BackRing(mem, bytes);
  else compat_ = B::x86_32::BackRing(mem, bytes);
}

namespace {
// One translation for both layouts: the request structs of each ABI have
// the same field names.
template <typename Req, typename Discard, typename Indirect>
void translate(const Req& raw, BlkRequest& out) {
  out = BlkRequest{};
  out.operation = raw.operation;
  out.op = raw.operation;
  out.id = raw.id;
  switch (raw.operation) {
    case B::BLKIF_OP_DISCARD: {
      Discard d;
      static_assert(sizeof(Discard) <= sizeof(Req));
      std::memcpy(&d, &raw, sizeof d);
      out.handle = d.handle;
      out.discard_flag = d.flag;
      out.sector = d.sector_number;
      out.nr_sectors = d.nr_sectors;
      break;
    }
    case B::BLKIF_OP_INDIRECT: {
      Indirect ind;
      static_assert(sizeof(Indirect) <= sizeof(Req));
      std::memcpy(&ind, &raw, sizeof ind);
      out.indirect = true;
      out.op = ind.indirect_op;
      out.handle = ind.handle;
      out.nr_segments = ind.nr_segments;
      out.sector = ind.sector_number;
      for (unsigned i = 0; i < B::BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++) out.indirect_grefs[i] = ind.indirect_grefs[i];
      break;
    }
    default: {
      out.handle = raw.handle;
      out.nr_segments = raw.nr_segments;
      out.sector = raw.sector_number;
      const unsigned n = raw.nr_segments < B::BLKIF_MAX_SEGMENTS_PER_REQUEST ? raw.nr_segments : B::BLKIF_MAX_SEGMENTS_PER_REQUEST;
      for (unsigned i = 0; i < n; i++) out.seg[i] = raw.seg[i];
      break;
    }
  }
}
}  // namespace

void BlkRing::take(BlkRequest& out) {
  if (abi_ == Abi::kNative) {
    const B::blkif_request raw = native_.take_request();
    translate<B::blkif_request, B::blkif_request_discard, B::blkif_request_indirect>(raw, out);
  } else {
    const B::x86_32::blkif_request raw = compat_.take_request();
    translate<B::x86_32::blkif_request, B::x86_32::blkif_request_discard, B::x86_32::blkif_request_indirect>(raw, out);
  }
}

namespace {
// One response into either layout (same field names, as the requests).
template <typename Response, typename Ring>
void queue_response(Ring& ring, uint64_t id, uint8_t operation, int16_t status) {
  Response r{};
  r.id = id;
  r.operation = operation;
  r.status = status;
  std::memcpy(&ring.next_response(), &r, sizeof r);
  ring.rsp_prod_pvt++;
}
}  // namespace

void BlkRing::respond(uint64_t id, uint8_t operation, int16_t status) {
  if (abi_ == Abi::kNative) queue_response<B::blkif_response>(native_, id, operation, status);
  else queue_response<B::x86_32::blkif_response>(compat_, id, operation, status);
  queued_++;
}

bool BlkRing::push() {
  queued_ = 0;
  return abi_ == Abi::kNative ? native_.push_responses() : compat_.push_responses();
}

}  // namespace pv::blkback

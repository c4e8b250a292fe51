// pvctl's side of hot-plug: block-attach's spec (a relative target taken
// from the working directory, as xl) and the block-list / network-list
// tables as xl prints them.
#include <gtest/gtest.h>

#include "hotplug_cmd.h"

namespace pv::pvctl {
namespace {

TEST(BlockAttachSpec, ARelativeTargetIsTakenFromTheWorkingDirectory) {
  EXPECT_EQ(absolute_disk_spec("vdev=xvdb, target=imgs/../imgs/a.img", "/srv/pv"),
            absolute_disk_spec("vdev=xvdb, target=/srv/pv/imgs/a.img", "/elsewhere"));
  const std::string out = absolute_disk_spec("a.img,raw,xvdc,ro", "/srv/pv");
  EXPECT_NE(out.find("target=/srv/pv/a.img"), std::string::npos) << out;
  EXPECT_NE(out.find("vdev=xvdc"), std::string::npos) << out;
  EXPECT_NE(out.find("access=ro"), std::string::npos) << out;
  // Absolute, or no target: unchanged in meaning; a bad spec goes as it is
  // (pvd says what is wrong with it).
  EXPECT_NE(absolute_disk_spec("vdev=xvdb, target=/x.img", "/srv").find("target=/x.img"), std::string::npos);
  EXPECT_EQ(absolute_disk_spec("vdev=xvdb, access=sideways, target=a", "/srv"), "vdev=xvdb, access=sideways, target=a");
}

TEST(HotplugLists, AsXlPrintsThem) {
  admin::DeviceList l;
  auto* d = l.add_devices();
  d->set_devid(51728);
  d->set_frontend_state(4);
  d->set_evtchn(9);
  d->set_ring_ref(8);
  d->set_backend_path("/local/domain/0/backend/vbd/3/51728");
  auto* e = l.add_devices();
  e->set_devid(51744);
  e->set_frontend_state(1);
  e->set_evtchn(-1);
  e->set_ring_ref(-1);
  e->set_backend_path("/local/domain/0/backend/vbd/3/51744");
  EXPECT_EQ(block_list_text(l),
            "Vdev  BE  handle state evt-ch ring-ref BE-path                       \n"
            "51728 0   3      4     9      8        /local/domain/0/backend/vbd/3/51728\n"
            "51744 0   3      1     -1     -1       /local/domain/0/backend/vbd/3/51744\n");
  admin::DeviceList v;
  auto* n = v.add_devices();
  n->set_devid(1);
  n->set_mac("00:16:3e:00:0d:01");
  n->set_frontend_state(4);
  n->set_evtchn(12);
  n->set_tx_ring_ref(768);
  n->set_rx_ring_ref(769);
  n->set_backend_path("/local/domain/0/backend/vif/3/1");
  EXPECT_EQ(network_list_text(v),
            "Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref BE-path                       \n"
            "1   0  00:16:3e:00:0d:01 1      4     12       768/769         /local/domain/0/backend/vif/3/1\n");
}

}  // namespace
}  // namespace pv::pvctl

// XenBus device states (public/io/xenbus.h): both ends of a split device
// publish theirs in xenstore under "state" and follow each other's.
#pragma once
#include "../xen.h"

namespace xen::xenbus {

enum State : uint32_t {
  Unknown = 0,
  Initialising = 1,
  InitWait = 2,     // back-end: waiting for the front-end's details
  Initialised = 3,  // front-end: rings granted and published
  Connected = 4,
  Closing = 5,
  Closed = 6,
  Reconfiguring = 7,
  Reconfigured = 8,
};

inline const char* state_name(uint32_t s) {
  switch (s) {
    case Unknown: return "Unknown";
    case Initialising: return "Initialising";
    case InitWait: return "InitWait";
    case Initialised: return "Initialised";
    case Connected: return "Connected";
    case Closing: return "Closing";
    case Closed: return "Closed";
    case Reconfiguring: return "Reconfiguring";
    case Reconfigured: return "Reconfigured";
    default: return "Invalid";
  }
}

}  // namespace xen::xenbus

// ---- Xen's spellings (public/io/xenbus.h, enum xenbus_state); see xen.h ----
namespace xen {
using XenbusState = xenbus::State;
inline constexpr XenbusState XenbusStateUnknown = xenbus::Unknown;
inline constexpr XenbusState XenbusStateInitialising = xenbus::Initialising;
inline constexpr XenbusState XenbusStateInitWait = xenbus::InitWait;
inline constexpr XenbusState XenbusStateInitialised = xenbus::Initialised;
inline constexpr XenbusState XenbusStateConnected = xenbus::Connected;
inline constexpr XenbusState XenbusStateClosing = xenbus::Closing;
inline constexpr XenbusState XenbusStateClosed = xenbus::Closed;
inline constexpr XenbusState XenbusStateReconfiguring = xenbus::Reconfiguring;
inline constexpr XenbusState XenbusStateReconfigured = xenbus::Reconfigured;
}  // namespace xen

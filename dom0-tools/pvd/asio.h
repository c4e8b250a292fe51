// Boost.Asio for pvd. Debian 12's Boost 1.74 uses std::exchange in
// asio/awaitable.hpp without including <utility>, which C++20 builds need.
#pragma once
#include <utility>

#include <boost/asio.hpp>

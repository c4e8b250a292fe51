// Which top-level keys exist: the ones this platform reads, and the ones xl
// reads that this platform ignores (so a config written for xl still loads).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pv::config {

// Keys DomainConfig is built from.
std::span<const std::string_view> supported_keys();

// Keys xl understands (tools/xl/xl_parse.c) but this platform does not use.
bool is_xl_only_key(std::string_view key);

// Damerau-Levenshtein (optimal string alignment) distance.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The supported key a misspelt `key` most likely meant: distance 1, or 2 for
// keys of 5 or more characters. nullopt if none is that close.
std::optional<std::string_view> suggest_key(std::string_view key);

}  // namespace pv::config

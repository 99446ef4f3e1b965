// upgradectl's human-readable view of typed query answers (queries.fbs).
#pragma once

#include <string>
#include <vector>

#include "noodle/fb/queries_generated.h"

namespace noodle::tools {

// An enum value's name as upgradectl prints it: "RollingBack" -> "rolling_back".
std::string Label(const char* enum_name);

// One line about an upgrade: "<id>  <component> <from> -> <to>  <phase>...".
std::string UpgradeLine(const fb::UpgradeInfo& u);

// One upgrade for people: id, versions, phase and why, times (RFC 3339),
// duration, and a table of its steps.
void PrintUpgrade(const fb::UpgradeInfo& u);

void PrintRegistry(const std::vector<const fb::RegistryResult*>& pages);
void PrintStatus(const std::vector<const fb::StatusResult*>& pages);
void PrintStats(const std::vector<const fb::StatisticsResult*>& pages);

}  // namespace noodle::tools

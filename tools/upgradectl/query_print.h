// upgradectl's human-readable views of typed query answers (queries.fbs)
// and of a dry run's plan: aligned tables, readable durations, RFC 3339
// times. `wide` (-o wide) adds columns.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "noodle/fb/queries_generated.h"

namespace noodle::tools {

// An enum value's name as upgradectl prints it: "RollingBack" -> "rolling_back".
std::string Label(const char* enum_name);

// One upgrade for people: id, versions, phase and why, times (RFC 3339),
// duration, and a table of its steps.
void PrintUpgrade(const fb::UpgradeInfo& u);

// One component: its spec field by field, dependencies, hooks, metadata.
void PrintComponent(const fb::ComponentInfo& c);

// A dry run's answer (the engine's plan JSON): verdict, versions, problems,
// warnings and the steps it would run.
void PrintDryRun(const nlohmann::json& plan);

void PrintRegistry(const std::vector<const fb::RegistryResult*>& pages, bool wide);
void PrintStatus(const std::vector<const fb::StatusResult*>& pages, bool wide);
void PrintStats(const std::vector<const fb::StatisticsResult*>& pages, bool wide);

}  // namespace noodle::tools

#ifndef SLIPWAY_CLIENT_STEP_STEP_SUMMARY_H_
#define SLIPWAY_CLIENT_STEP_STEP_SUMMARY_H_

#include <string>

#include "client/step/step_settings.h"

namespace slipway::client::step {

// A human-readable account of parsed settings, one "name: value" line each, for
// `slipway step --print-settings`. Secrets never appear: passwords, secret keys, session
// tokens, JSON keys, client secrets and identity tokens print as "***", as do the values of
// build args whose name suggests a secret (TOKEN, SECRET, PASSWORD, PASS, KEY, AUTH,
// CREDENTIAL); CA certificates print as their size.
std::string DescribeStepSettings(const StepSettings& settings);

}  // namespace slipway::client::step

#endif  // SLIPWAY_CLIENT_STEP_STEP_SUMMARY_H_

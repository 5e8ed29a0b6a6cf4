/* SPDX-License-Identifier: Apache-2.0 */
/* The executor's operations over the local engine: pass them with the
 * struct engine * as their data (cluster_set_task_engine). */
#ifndef SHOAL_AGENT_ENGINE_H
#define SHOAL_AGENT_ENGINE_H

#include "agent/agent_exec.h"

extern const struct agent_exec_ops agent_engine_ops;

#endif

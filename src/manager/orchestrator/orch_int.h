/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the orchestrator's files (not part of its API). */
#ifndef SHOAL_ORCH_INT_H
#define SHOAL_ORCH_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

/* obj.a[.b] as a string ("" if absent) or an integer (0 if absent). */
const char *orch_str(const json_t *obj, const char *a, const char *b);
int64_t orch_int(const json_t *obj, const char *a, const char *b);

/* The service's published ports for its tasks' _Endpoint: {"Ports": [..]}
 * from Endpoint.Ports, else Spec.EndpointSpec.Ports. Caller owns it. */
json_t *orch_endpoint(const json_t *service);

bool orch_is_service_task(const json_t *service, const json_t *task);
/* DesiredState at most running. */
bool orch_is_runnable(const json_t *task);
/* Status.State past running. */
bool orch_has_ended(const json_t *task);
/* Same slot, or for slot 0 the same node. */
bool orch_same_place(const json_t *a, const json_t *b);
/* The restart policy's verdict for an ended task. */
bool orch_should_restart(const json_t *service, const json_t *tasks,
                         const json_t *task, int64_t now);

/* A node that may get a task of this service: not down, not drained,
 * constraints and platforms satisfied. */
bool orch_node_eligible(const json_t *service, const json_t *node);
/* A replicated-job or global-job service. */
bool orch_is_job(const json_t *service);
/* JobStatus.JobIteration.Index (0 if absent). */
int64_t orch_job_iteration(const json_t *service);

/* A copy of task with another DesiredState; caller owns it. */
json_t *orch_with_desired(const json_t *task, const char *desired);
/* Append the version-checked update setting task's DesiredState. */
void orch_set_desired(json_t *actions, const json_t *task,
                      const char *desired);

#endif

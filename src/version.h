/* SPDX-License-Identifier: Apache-2.0 */
/* shoal's version, reported as the engine version. */
#ifndef SHOAL_VERSION_H
#define SHOAL_VERSION_H

#define SHOAL_VERSION "0.1.0"

#endif

/**
 * The JSON the page reads, typed from the same schemas the dashboard writes it with. The page does
 * not validate it (the schemas would weigh more than the page): fields the dashboard leaves empty
 * (an `action: {}`) are read with defaults.
 *
 * @module
 */

import type { TopomOverview } from "../../api/topom_stats.ts";

export type Overview = TopomOverview;
export type Stats = Overview["stats"];
export type GroupJson = Stats["group"]["models"][number];
export type ProxyProbe = Stats["proxy"]["stats"][string];
export type ProxyStats = NonNullable<ProxyProbe["stats"]>;
export type SlotJson = Stats["slots"][number];
export type ServerProbe = Stats["group"]["stats"][string];
export type SentinelProbe = Stats["sentinels"]["stats"][string];

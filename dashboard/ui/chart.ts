/**
 * A time-series chart (uPlot) of the polled samples: one line per proxy and the total.
 *
 * @module
 */

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { groupColor } from "./components.ts";
import { html } from "./html.ts";

export interface Series {
  label: string;
  values: (number | null)[];
  /** The total is drawn thicker. */
  bold?: boolean;
}

/** A live line chart; `times` in Unix seconds. Rebuilt when the set of series changes. */
export function Chart(props: {
  title: string;
  times: number[];
  series: Series[];
  /** Formats a value in the legend, and the axis's ticks unless `axis` is given. */
  unit: (v: number) => string;
  axis?: (v: number) => string;
  testid?: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = props.series.map((s) => s.label).join("\n");

  useEffect(() => {
    const el = box.current!;
    const opts: uPlot.Options = {
      width: Math.max(300, el.clientWidth),
      height: 220,
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        { stroke: "#5b6472", grid: { stroke: "#eef0f3" } },
        {
          stroke: "#5b6472",
          grid: { stroke: "#eef0f3" },
          size: 70,
          values: (_u, vals) => vals.map(props.axis ?? props.unit),
        },
      ],
      series: [
        {},
        ...props.series.map((s, i) => ({
          label: s.label,
          stroke: s.bold ? "#111827" : groupColor(i + 1),
          width: s.bold ? 2.5 : 1.5,
          spanGaps: true,
          points: { show: false },
          value: (_u: uPlot, v: number | null) => v === null ? "–" : props.unit(v),
        })),
      ],
    };
    plot.current = new uPlot(opts, [props.times, ...props.series.map((s) => s.values)] as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() =>
      plot.current?.setSize({ width: Math.max(300, el.clientWidth), height: 220 })
    );
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape]);

  useEffect(() => {
    plot.current?.setData([props.times, ...props.series.map((s) => s.values)] as uPlot.AlignedData);
  });

  return html`
    <figure class="chart" data-testid=${props.testid}>
      <figcaption>${props.title}</figcaption>
      <div ref=${box}></div>
    </figure>
  `;
}

import { Duration } from 'aws-cdk-lib';
import { Dashboard, GraphWidget, type IMetric, Metric, TextWidget } from 'aws-cdk-lib/aws-cloudwatch';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from './dualtrack-function.js';

/** Metric names the pipeline emits (shared/pipeline/deps.ts PipelineMetrics) with a `platform` dimension. */
export const PIPELINE_METRICS = [
  'rowsLoaded',
  'rowsQuarantined',
  'recordsFetched',
  'fetchErrors',
  'messagesSent',
  'poisonMessages',
] as const;
/** Metric names evaluate-alerts emits (no platform dimension). */
export const ALERT_METRICS = ['alertsOpened', 'alertsResolved', 'alertsFiring'] as const;

export interface OperationsDashboardProps {
  /** Platform keys from the config. */
  readonly platforms: readonly string[];
  /**
   * POWERTOOLS_SERVICE_NAME of the emitting functions. Powertools adds `service` as a default
   * dimension to every metric, so a metric is found only under (service, platform) exactly.
   */
  readonly services: {
    readonly fetchWorker: string;
    readonly normalizeWorker: string;
    readonly evaluateAlerts: string;
  };
  /** Work queues (depth and oldest-message age), labelled. */
  readonly queues: readonly { readonly label: string; readonly queue: IQueue }[];
  /** Dead-letter queues (depth), labelled. */
  readonly deadLetterQueues: readonly { readonly label: string; readonly queue: IQueue }[];
  /** @default - CloudFormation generates one */
  readonly dashboardName?: string;
}

/**
 * The CloudWatch dashboard of docs/design.md §10, one row per question an operator asks:
 * is data loading (rows loaded / quarantined per platform)? is fetching healthy (records fetched,
 * fetch errors, messages sent, poison messages)? are the queues keeping up (depth, oldest message,
 * dead letters)? what are the alerts doing (opened, resolved, firing)?
 * Pipeline metrics come from the Powertools EMF namespace `dualtrack`, dimensions (service, platform).
 */
export class OperationsDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    const period = Duration.minutes(5);
    const perPlatform = (
      name: (typeof PIPELINE_METRICS)[number],
      service: string,
      platforms: readonly string[] = props.platforms,
    ): IMetric[] =>
      platforms.map(
        (platform) =>
          new Metric({
            namespace: METRICS_NAMESPACE,
            metricName: name,
            dimensionsMap: { service, platform },
            statistic: 'Sum',
            period,
            label: platform,
          }),
      );
    const graph = (title: string, left: IMetric[], width = 12) => new GraphWidget({ title, left, width, height: 6 });
    const alert = (metricName: (typeof ALERT_METRICS)[number], statistic: string) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: props.services.evaluateAlerts },
        statistic,
        period,
        label: metricName,
      });

    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.days(1),
    });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown:
          '# dualtrack\nRows per platform, fetch health, queues and alerts. A DLQ with messages: inspect, fix, then redrive (`aws sqs start-message-move-task`).',
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      graph('Rows loaded per platform', perPlatform('rowsLoaded', props.services.normalizeWorker)),
      graph('Rows quarantined per platform', perPlatform('rowsQuarantined', props.services.normalizeWorker)),
    );
    this.dashboard.addWidgets(
      graph('Records fetched', perPlatform('recordsFetched', props.services.fetchWorker), 6),
      graph('Fetch errors', perPlatform('fetchErrors', props.services.fetchWorker), 6),
      graph('Messages sent to normalize', perPlatform('messagesSent', props.services.fetchWorker), 6),
      // A message that fails the schema names no trustworthy platform: normalize-worker counts it under "unknown".
      graph(
        'Poison messages (quarantined whole)',
        perPlatform('poisonMessages', props.services.normalizeWorker, ['unknown']),
        6,
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'Queue depth (visible messages)',
        props.queues.map((q) =>
          q.queue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label: q.label }),
        ),
        8,
      ),
      graph(
        'Oldest message age (s)',
        props.queues.map((q) =>
          q.queue.metricApproximateAgeOfOldestMessage({ period, statistic: 'Maximum', label: q.label }),
        ),
        8,
      ),
      graph(
        'Dead-letter queues (messages)',
        props.deadLetterQueues.map((q) =>
          q.queue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label: q.label }),
        ),
        8,
      ),
    );
    this.dashboard.addWidgets(
      graph('Alerts opened / resolved', [alert('alertsOpened', 'Sum'), alert('alertsResolved', 'Sum')]),
      graph('Alerts firing', [alert('alertsFiring', 'Maximum')]),
    );
  }
}

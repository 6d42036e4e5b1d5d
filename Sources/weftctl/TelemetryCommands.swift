import ArgumentParser
import Foundation
import WeftAdminClient
import WeftCore

struct TelemetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "telemetry", abstract: "Metrics push, traces and access logs, switched at run time.",
        subcommands: [Show.self, Set.self, Off.self]
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The telemetry settings.")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let telemetry = try await connection.withClient { try await $0.telemetry() }
            TelemetryCommand.print(telemetry, connection)
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change telemetry settings; what is not given stays as it is.",
            discussion: "Nodes follow within a second."
        )
        @OptionGroup var connection: ConnectionOptions
        @Option(name: .customLong("metrics-push"), help: "none, prometheus-remote-write, otlp-http or statsd.")
        var metricsPush: String?
        @Option(name: .customLong("metrics-endpoint"), help: "URL, or host:port for StatsD.") var metricsEndpoint:
            String?
        @Option(help: "Seconds between pushes (or 10s, 1m).") var interval: String?
        @Option(name: .customLong("traces-endpoint"), help: "OTLP/HTTP traces endpoint; empty switches tracing off.")
        var tracesEndpoint: String?
        @Option(name: .customLong("trace-sampling"), help: "Fraction of requests traced, 0-1.") var traceSampling:
            Double?
        @Option(name: .customLong("access-log"), help: "on or off.") var accessLog: String?
        @Option(name: .customLong("if-match"), help: "Only if the settings are still at this revision.") var ifMatch:
            Int64?

        func run() async throws {
            var push: TelemetrySettings.MetricsPush?
            if let metricsPush {
                guard let value = TelemetrySettings.MetricsPush(rawValue: metricsPush) else {
                    let choices = TelemetrySettings.MetricsPush.allCases.map(\.rawValue).joined(separator: ", ")
                    throw ValidationError("--metrics-push '\(metricsPush)': use one of \(choices)")
                }
                push = value
            }
            var seconds: Int?
            if let interval {
                guard let value = parseDuration(interval) else {
                    throw ValidationError("--interval '\(interval)': use seconds, or 10s, 1m")
                }
                seconds = value
            }
            var log: Bool?
            if let accessLog {
                guard ["on", "off"].contains(accessLog) else {
                    throw ValidationError("--access-log '\(accessLog)': use on or off")
                }
                log = accessLog == "on"
            }
            let stored = try await connection.withClient { client in
                let current = try await client.telemetry()
                var telemetry = current.value
                if let push { telemetry.metricsPush = push }
                if let metricsEndpoint { telemetry.metricsEndpoint = metricsEndpoint.isEmpty ? nil : metricsEndpoint }
                if let seconds { telemetry.pushInterval = seconds }
                if let tracesEndpoint { telemetry.tracesEndpoint = tracesEndpoint.isEmpty ? nil : tracesEndpoint }
                if let traceSampling { telemetry.traceSampling = traceSampling }
                if let log { telemetry.accessLog = log }
                return try await client.putTelemetry(telemetry, ifMatch: ifMatch ?? current.revision)
            }
            TelemetryCommand.print(stored, connection)
        }
    }

    struct Off: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop pushing metrics and traces (access logs stay as they are).")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let stored = try await connection.withClient { client in
                let current = try await client.telemetry()
                var telemetry = current.value
                telemetry.metricsPush = .none
                telemetry.metricsEndpoint = nil
                telemetry.tracesEndpoint = nil
                return try await client.putTelemetry(telemetry, ifMatch: current.revision)
            }
            TelemetryCommand.print(stored, connection)
        }
    }

    static func print(_ telemetry: Revisioned<TelemetrySettings>, _ connection: ConnectionOptions) {
        if connection.output == .json { return Output.json(telemetry) }
        let value = telemetry.value
        Output.fields([
            ("metrics push", value.metricsPush.rawValue), ("metrics endpoint", value.metricsEndpoint ?? "-"),
            ("push interval", "\(value.pushInterval)s"), ("traces endpoint", value.tracesEndpoint ?? "off"),
            ("trace sampling", "\(value.traceSampling)"), ("access log", value.accessLog ? "on" : "off"),
            ("revision", "\(telemetry.revision)"),
        ])
    }
}

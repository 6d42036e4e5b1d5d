import WeftCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One `/etc/weft/services.d/*.toml` file: how a local service is named and described, overriding discovery.
///
/// ```toml
/// name = "backend"            # required, a DNS label
/// namespace = "default"
/// unit = "backend-v2.service" # which sockets are this service; default "<name>.service"
/// # or: cgroup = "system.slice/x.service"   or: uid = 1001
/// ports = [8080, 8443]        # restricts discovery to these ports, and declares them even before they listen
/// protocol = "http"           # tcp | http | http2 | grpc
/// [labels]
/// version = "v2"
/// ```
public struct ServiceOverride: Sendable, Equatable {
    public enum Matcher: Sendable, Equatable {
        case unit(String)
        case cgroup(String)
        case uid(UInt32)
    }

    public var name: String
    public var namespace: String
    public var matcher: Matcher
    public var ports: [UInt16]?
    public var `protocol`: ServiceProtocol?
    public var labels: [String: String]
    /// The file it came from.
    public var file: String

    /// True when a socket with this cgroup path and uid belongs to the service.
    public func matches(cgroupPath: String, uid: UInt32) -> Bool {
        switch matcher {
        case .unit(let unit):
            return cgroupPath.split(separator: "/").last(where: { $0.hasSuffix(".service") }).map(String.init) == unit
        case .cgroup(let suffix):
            return cgroupPath == suffix || cgroupPath.hasSuffix("/" + suffix)
        case .uid(let expected):
            return uid == expected
        }
    }
}

/// A services.d file that could not be used, with where and why.
public struct ServiceFileError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String

    public var description: String { "\(file):\(line): \(message)" }
}

public enum ServiceOverrideLoader {
    public static let defaultDirectory = "/etc/weft/services.d"

    /// Loads every `*.toml` file of `directory` in name order. A broken file is reported and skipped; the others
    /// still load. A missing directory is no error (no overrides).
    public static func load(directory: String = defaultDirectory) -> (
        overrides: [ServiceOverride], errors: [ServiceFileError]
    ) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return ([], []) }
        var overrides: [ServiceOverride] = []
        var errors: [ServiceFileError] = []
        var seen: [String: String] = [:]
        for name in names.sorted() where name.hasSuffix(".toml") {
            let path = directory + "/" + name
            do {
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    throw ServiceFileError(file: path, line: 1, message: "cannot read the file as UTF-8 text")
                }
                let override = try parse(text, file: path)
                let key = override.namespace + "/" + override.name
                if let other = seen[key] {
                    throw ServiceFileError(
                        file: path, line: 1, message: "service \(key) is already defined in \(other)")
                }
                seen[key] = path
                overrides.append(override)
            } catch let error as ServiceFileError {
                errors.append(error)
            } catch {
                errors.append(ServiceFileError(file: path, line: 1, message: "\(error)"))
            }
        }
        return (overrides, errors)
    }

    /// Parses one file's text.
    public static func parse(_ text: String, file: String) throws(ServiceFileError) -> ServiceOverride {
        let doc: TOMLTable
        do {
            doc = try TOML.parse(text)
        } catch {
            throw ServiceFileError(file: file, line: error.line, message: error.message)
        }
        func fail(_ key: String, _ message: String) -> ServiceFileError {
            ServiceFileError(file: file, line: doc.line(of: key) ?? 1, message: message)
        }
        let known: Set = ["name", "namespace", "unit", "cgroup", "uid", "ports", "protocol", "labels"]
        if let unknown = doc.keys.first(where: { !known.contains($0) }) {
            throw fail(unknown, "unknown key '\(unknown)' (known: \(known.sorted().joined(separator: ", ")))")
        }
        func string(_ key: String) throws(ServiceFileError) -> String? {
            guard let value = doc[key] else { return nil }
            guard let text = value.string else { throw fail(key, "'\(key)' must be a string, not a \(value.typeName)") }
            return text
        }
        guard let name = try string("name") else {
            throw ServiceFileError(file: file, line: 1, message: "'name' is required")
        }
        do { try DNSLabel.validate(name) } catch { throw fail("name", "name: \(error.description)") }
        let namespace = try string("namespace") ?? "default"
        do { try DNSLabel.validate(namespace) } catch { throw fail("namespace", "namespace: \(error.description)") }

        let matchers = ["unit", "cgroup", "uid"].filter { doc[$0] != nil }
        if matchers.count > 1 {
            throw fail(
                matchers[1], "use only one of unit, cgroup and uid (found \(matchers.joined(separator: " and ")))")
        }
        var matcher = ServiceOverride.Matcher.unit(name + ".service")
        if let unit = try string("unit") {
            guard unit.hasSuffix(".service"), !unit.contains("/") else {
                throw fail("unit", "unit '\(unit)' must be a systemd service unit name such as \(name).service")
            }
            matcher = .unit(unit)
        } else if let cgroup = try string("cgroup") {
            guard !cgroup.isEmpty else { throw fail("cgroup", "cgroup must not be empty") }
            matcher = .cgroup(cgroup.hasPrefix("/") ? String(cgroup.dropFirst()) : cgroup)
        } else if let uid = doc["uid"] {
            guard let value = uid.integer, value >= 0, value <= Int64(UInt32.max) else {
                throw fail("uid", "uid must be a whole number from 0 to \(UInt32.max)")
            }
            matcher = .uid(UInt32(value))
        }

        var ports: [UInt16]?
        if let value = doc["ports"] {
            guard let items = value.array else {
                throw fail("ports", "ports must be an array of port numbers, e.g. [8080]")
            }
            ports = try items.map { item throws(ServiceFileError) in
                guard let port = item.integer, port >= 1, port <= 65535 else {
                    throw fail(
                        "ports",
                        "ports: \(item.integer.map(String.init) ?? item.typeName) is not a port number (1-65535)")
                }
                return UInt16(port)
            }
        }
        var serviceProtocol: ServiceProtocol?
        if let text = try string("protocol") {
            guard let parsed = ServiceProtocol(rawValue: text) else {
                throw fail(
                    "protocol",
                    "protocol '\(text)' is not one of \(ServiceProtocol.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            serviceProtocol = parsed
        }
        var labels: [String: String] = [:]
        if let value = doc["labels"] {
            guard let table = value.table else { throw fail("labels", "labels must be a table of strings") }
            for key in table.keys {
                guard let text = table[key]?.string else {
                    throw ServiceFileError(
                        file: file, line: table.line(of: key) ?? 1, message: "label '\(key)' must be a string")
                }
                labels[key] = text
            }
        }
        return ServiceOverride(
            name: name, namespace: namespace, matcher: matcher, ports: ports, protocol: serviceProtocol,
            labels: labels, file: file)
    }
}

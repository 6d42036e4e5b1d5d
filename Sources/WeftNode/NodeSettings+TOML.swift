import WeftCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension NodeSettings {
    /// Where `weft-node run` reads its settings when no `--config` is given and the file exists.
    public static let defaultConfigPath = "/etc/weft/node.toml"

    /// Applies the settings of a node.toml; unknown keys and wrong types are errors naming the line, so a typo never
    /// silently does nothing. Flags given on the command line override these.
    public mutating func apply(toml text: String, path: String) throws(Error) {
        let table: TOMLTable
        do { table = try TOML.parse(text) } catch { throw .invalidConfig(path: path, reason: "\(error)") }
        func fail(_ key: String, _ reason: String) -> Error {
            .invalidConfig(path: path, reason: "line \(table.line(of: key) ?? 1): \(key): \(reason)")
        }
        func string(_ key: String) throws(Error) -> String {
            guard let value = table[key]?.string else { throw fail(key, "must be a string") }
            return value
        }
        func strings(_ key: String) throws(Error) -> [String] {
            guard let values = table[key]?.array?.compactMap(\.string), values.count == table[key]?.array?.count else {
                throw fail(key, "must be a list of strings")
            }
            return values
        }
        func boolean(_ key: String) throws(Error) -> Bool {
            guard let value = table[key]?.boolean else { throw fail(key, "must be true or false") }
            return value
        }
        func address(_ key: String, _ text: String) throws(Error) -> IPSocketAddress {
            guard let parsed = IPSocketAddress(text) else {
                throw fail(key, "'\(text)' is not address:port or [address]:port")
            }
            return parsed
        }
        func ports(_ key: String) throws(Error) -> [UInt16] {
            guard let values = table[key]?.array?.compactMap(\.integer), values.count == table[key]?.array?.count,
                values.allSatisfy({ (1...65535).contains($0) })
            else { throw fail(key, "must be a list of ports (1-65535)") }
            return values.map { UInt16($0) }
        }
        func ranges(_ key: String) throws(Error) -> [IPCIDR] {
            var result: [IPCIDR] = []
            for text in try strings(key) {
                do { result.append(try IPCIDR(text)) } catch { throw fail(key, "\(error)") }
            }
            return result
        }
        for key in table.keys {
            switch key {
            case "node_name": nodeName = try string(key)
            case "control_plane": controlPlaneAddress = try address(key, try string(key))
            case "join_address": joinAddress = try address(key, try string(key))
            case "join_token_file":
                let file = try string(key)
                do {
                    joinToken = try String(contentsOfFile: file, encoding: .utf8).trimmingWhitespace()
                } catch {
                    // Needed only until the node has joined: a removed token file is fine once credentials exist.
                    joinToken = nil
                }
            case "state_dir": stateDirectory = try string(key)
            case "node_addresses":
                nodeAddresses = try strings(key).map { text throws(Error) in
                    guard let address = IPAddress(text) else { throw fail(key, "'\(text)' is not an IP address") }
                    return address
                }
            case "admin_listen": adminAddresses = [try address(key, try string(key))]
            case "drain_timeout":
                do { drainTimeout = try DurationText.parse(try string(key)) } catch let error as DurationText.ParseError
                {
                    throw fail(key, error.description)
                } catch { throw error as! Error }
            case "services_dir": servicesDirectory = try string(key)
            case "static_config": nodeConfigPath = try string(key)
            case "capture": captureEnabled = try boolean(key)
            case "dns": dnsEnabled = try boolean(key)
            case "dns_upstreams": dnsUpstreams = try strings(key).map { text throws(Error) in try address(key, text) }
            case "cleanup_on_exit": cleanupOnExit = try boolean(key)
            case "vip_ranges": capture.vipRanges = try ranges(key)
            case "outbound_ports": capture.outboundPorts = try ports(key)
            case "excluded_ports": capture.excludedPorts = try ports(key)
            case "excluded_cidrs": capture.excludedCIDRs += try ranges(key)
            default:
                throw fail(key, "unknown setting (known: \(Self.tomlKeys.joined(separator: ", ")))")
            }
        }
    }

    static let tomlKeys = [
        "node_name", "control_plane", "join_address", "join_token_file", "state_dir", "node_addresses", "admin_listen",
        "drain_timeout", "services_dir", "static_config", "capture", "dns", "dns_upstreams", "cleanup_on_exit",
        "vip_ranges", "outbound_ports", "excluded_ports", "excluded_cidrs",
    ]
}

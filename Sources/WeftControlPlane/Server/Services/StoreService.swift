import ServiceLifecycle

/// The store, opened and migrated before the group starts; closed after every other part has stopped.
struct StoreService: Service {
    let store: any Store

    func run() async throws {
        try? await gracefulShutdown()
        await store.close()
    }
}

// BrokerService

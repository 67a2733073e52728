import BrokerService

await BrokerMain.run()

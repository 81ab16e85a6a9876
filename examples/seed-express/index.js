const express = require("express")
const bodyParser = require("body-parser")
// Initialize express and define a port
const app = express()
const PORT = 3000
const KEY = 'mysecretkey'
// Tell express to use body-parser's JSON parsing
app.use(bodyParser.json())
app.post("/hook", (req, res) => {
if (req.headers['x-api-key'] !== KEY) return res.status(401).end()
console.log(req.body) // Call your action on the request here, save to db etc...
res.status(200).end() // Responding 200 is important
})
// Start express on the defined port
app.listen(PORT, () => console.log(`🚀 Server running on port ${PORT}`))
